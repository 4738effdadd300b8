"""`forge models …` against a live console; jobs are run here as a worker would."""

from __future__ import annotations

import json
import zipfile

import pytest

from console.jobs.models import Job
from console.registry.models import ModelVersion
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
    target = tmp_path / "m.zip"
    dl = forge("models", "download", str(version.pk), "-o", str(target), **milo)
    assert dl.returncode == 0, dl.stderr
    assert "tiny-lm-v1/SHA256SUMS" in zipfile.ZipFile(target).namelist()
    bad = forge("models", "register", "--run", str(run.pk), "--step", "5", "--name", "x", **milo)
    assert bad.returncode == 1 and "no complete checkpoint at step 5" in bad.stderr
    assert forge("models", "show", "999999", **milo).returncode == 1
