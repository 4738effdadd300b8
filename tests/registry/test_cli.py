"""`forge models …` against a live console; jobs are run here as a worker would."""

from __future__ import annotations

import json
import zipfile

import pytest

from console.jobs.models import Job
from console.registry.models import Feedback, ModelVersion
from tests.factories import ModelVersionFactory
from tests.registry.conftest import run_job
from tests.test_cli import config_file, forge, milo  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_models_register_list_show_evaluate_quantize_download(forge, milo, run, tmp_path):  # noqa: F811
    reg = forge(
        "models",
        "register",
        "--run",
        str(run.pk),
        "--step",
        "6",
        "--name",
        "tiny-lm",
        "--json",
        **milo,
    )
    assert reg.returncode == 0, reg.stderr
    assert run_job(Job.objects.get(pk=json.loads(reg.stdout)["id"])).state == "succeeded"
    version = ModelVersion.objects.get()
    listed = forge("models", "list", **milo)
    assert listed.returncode == 0 and "tiny-lm v1" in listed.stdout and "draft" in listed.stdout
    shown = forge("models", "show", str(version.pk), **milo)
    assert shown.returncode == 0 and version.files[0]["sha256"] in shown.stdout
    ev = forge("models", "evaluate", str(version.pk), "--prompt", "Hi", "--json", **milo)
    assert ev.returncode == 0, ev.stderr
    job = Job.objects.get(pk=json.loads(ev.stdout)["id"])
    assert job.spec["kind"] == "generation" and job.spec["prompts"] == ["Hi"]
    q = forge(
        "models",
        "quantize",
        str(version.pk),
        "--method",
        "w4a16",
        "--algorithm",
        "gptq",
        "--group-size",
        "64",
        "--calibration-corpus",
        str(run.corpus_id),
        "--json",
        **milo,
    )
    assert q.returncode == 0, q.stderr
    spec = Job.objects.get(pk=json.loads(q.stdout)["id"]).spec
    assert (spec["method"], spec["algorithm"], spec["group_size"]) == ("w4a16", "gptq", 64)
    assert spec["calibration_corpus_id"] == run.corpus_id
    onnx = forge("models", "export-onnx", str(version.pk), "--json", **milo)
    assert onnx.returncode == 0, onnx.stderr
    assert Job.objects.get(pk=json.loads(onnx.stdout)["id"]).kind == "model.export_onnx"
    target = tmp_path / "m.zip"
    dl = forge("models", "download", str(version.pk), "-o", str(target), **milo)
    assert dl.returncode == 0, dl.stderr
    assert "tiny-lm-v1/SHA256SUMS" in zipfile.ZipFile(target).namelist()
    bad = forge("models", "register", "--run", str(run.pk), "--step", "5", "--name", "x", **milo)
    assert bad.returncode == 1 and "no complete checkpoint at step 5" in bad.stderr
    assert forge("models", "show", "999999", **milo).returncode == 1


def test_models_rate_feedback_and_export(forge, milo, personas, tmp_path):  # noqa: F811
    version = ModelVersionFactory(project=personas.project)
    rated = forge(
        "models", "rate", str(version.pk), "--prompt", "Mail jane.doe@example.com",
        "--output", "No.", "--bad", "--correction", "Yes, gladly.", "--flag",
        "--app", "support-bot", **milo,
    )  # fmt: skip
    assert rated.returncode == 0, rated.stderr
    assert "recorded (negative); masked: email x1" in rated.stdout
    stars = forge("models", "rate", str(version.pk), "--prompt", "Hi", "--output", "Hello",
                  "--stars", "5", **milo)  # fmt: skip
    assert stars.returncode == 0, stars.stderr
    listed = forge("models", "feedback", str(version.pk), "--flagged", "yes", **milo)
    assert listed.returncode == 0 and "corrected FLAGGED  Mail [EMAIL]" in listed.stdout
    assert "Hi" not in listed.stdout
    target = tmp_path / "pairs.jsonl"
    export = forge("models", "feedback-export", str(version.pk), "--layout", "preference",
                   "-o", str(target), **milo)  # fmt: skip
    assert export.returncode == 0 and "1 preference rows" in export.stdout, export.stderr
    row = json.loads(target.read_text("utf-8"))
    assert (row["chosen"], row["rejected"]) == ("Yes, gladly.", "No.")
    bad = forge("models", "rate", str(version.pk), "--prompt", " ", "--output", "x", "--good",
                **milo)  # fmt: skip
    assert bad.returncode == 1 and "prompt" in bad.stderr
    assert forge("models", "feedback", "999999", **milo).returncode == 1
    assert Feedback.objects.count() == 2
