"""A new user's model flow in the browser, with a real Celery worker running the jobs:
from a run's checkpoint, register a model, evaluate its perplexity, make a W4A16
version with GPTQ calibrated on a dataset version, and read the measured comparison
table; a bad request and a legacy Forge-only version as the user sees them.
Screenshots of the model page land in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.registry.models import Evaluation, ModelVersion
from tests.processes import CeleryWorker, broker_purge
from tests.registry.conftest import make_run, random_hf  # noqa: F401 - a fixture
from tests.train.conftest import tiny_corpus  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def model_dirs(settings, tmp_path, monkeypatch):
    """One FORGE_DATA_DIR and FORGE_MODELS_DIR for the live server and the worker."""
    settings.FORGE_DATA_DIR = tmp_path / "forge-data"
    settings.FORGE_RUNS_DIR = settings.FORGE_DATA_DIR / "runs"
    settings.FORGE_MODELS_DIR = tmp_path / "forge-models"
    monkeypatch.setenv("FORGE_DATA_DIR", str(settings.FORGE_DATA_DIR))
    monkeypatch.setenv("FORGE_MODELS_DIR", str(settings.FORGE_MODELS_DIR))
    return {"data": settings.FORGE_DATA_DIR, "models": settings.FORGE_MODELS_DIR}


@pytest.fixture
def worker(model_dirs, tmp_path):
    broker_purge()
    with CeleryWorker(tmp_path / "worker.log") as proc:
        yield proc
        proc.kill9()  # its jobs are over; a warm shutdown only adds seconds


def finish_job(w, what: str) -> None:
    """On a job page: wait (htmx polling) for success, then follow 'Open the result'."""
    page = w.page
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"), timeout=60_000)
    status = page.locator("#job-status")
    # GPTQ, then measuring, took over 180 s on a loaded CI machine
    expect(status).to_have_attribute("data-state", re.compile("succeeded|failed"), timeout=600_000)
    assert status.get_attribute("data-state") == "succeeded", page.locator("#job-log").inner_text()
    page.get_by_test_id("output").click()
    expect(page).to_have_url(re.compile(r"/models/\d+/$"))


def test_register_evaluate_quantize_compare(
    web,
    personas,
    model_dirs,
    worker,
    random_hf,  # noqa: F811
    tiny_corpus,  # noqa: F811
):
    run = make_run(personas.project, {"data": model_dirs["data"]}, random_hf, tiny_corpus)
    w = web()
    w.login(personas.ml_engineer, next_path=f"/runs/{run.pk}/")
    page = w.page
    page.get_by_test_id("register-6").click()
    expect(page).to_have_url(re.compile(r"/models/new/\?run="))
    page.get_by_label("Model name").fill("court-lm")
    page.get_by_role("button", name="Register").click()
    finish_job(w, "register")
    version = ModelVersion.objects.get()
    expect(page.get_by_role("heading", name="court-lm v1")).to_be_visible()
    expect(page.get_by_test_id("files")).to_contain_text("model.safetensors")
    expect(page.get_by_test_id("lineage")).to_contain_text(f"run {run.pk}")

    page.locator("#evaluate-form").get_by_label("Max sequences").fill("16")
    page.locator("#evaluate-form").get_by_role("button", name="Evaluate").click()
    finish_job(w, "evaluate")
    assert Evaluation.objects.filter(model_version=version, kind="perplexity").exists()
    expect(page.get_by_test_id("evaluations")).to_contain_text("perplexity")

    form = page.locator("#quantize-form")
    # GPTQ without a calibration set: refused on the form, nothing queued.
    form.get_by_label("Method").select_option("w4a16")
    form.get_by_label("Algorithm").select_option("gptq")
    form.get_by_role("button", name="Quantize").click()
    expect(page.locator("#quantize-form")).to_contain_text("GPTQ needs a calibration")
    form = page.locator("#quantize-form")
    form.get_by_label("Method").select_option("w4a16")
    form.get_by_label("Algorithm").select_option("gptq")
    form.get_by_label("Group size").select_option("64")
    form.get_by_label("Calibration set").select_option(str(run.corpus_id))
    form.get_by_label("Calibration sequences").fill("16")
    form.get_by_role("button", name="Quantize").click()
    finish_job(w, "quantize")
    child = ModelVersion.objects.get(parent=version)
    expect(page.get_by_role("heading", name=str(child))).to_be_visible()
    expect(page.get_by_test_id("weight-format")).to_contain_text("compressed-tensors")
    expect(page.get_by_test_id("vllm-args")).to_contain_text("--quantization compressed-tensors")
    expect(page.get_by_test_id("calibration")).to_contain_text(f"corpus {run.corpus_id}")
    table = page.get_by_test_id("comparison")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("w4a16-gptq")
    expect(table.get_by_test_id("serving").nth(1)).to_contain_text("compressed-tensors")
    expect(table.get_by_test_id("ppl-delta").nth(1)).to_have_text(re.compile(r"^[+-]\d"))
    page.goto(w.url(f"/models/{version.pk}/"))
    expect(page.locator('[data-chart="perplexity"] .main-svg').first).to_be_visible(timeout=60_000)
    w.shot("model-page")
    w.assert_clean(expected_statuses=(400,))  # the refused GPTQ form

    # ONNX: exported, verified by onnxruntime, registered as a derived version.
    page.goto(w.url(f"/models/{version.pk}/"))
    page.locator("#onnx-form").get_by_role("button", name="Export to ONNX").click()
    finish_job(w, "export-onnx")
    onnx = ModelVersion.objects.get(parent=version, kind="onnx")
    expect(page.get_by_role("heading", name=str(onnx))).to_be_visible()
    expect(page.get_by_test_id("onnx-verification")).to_contain_text("passed")
    expect(page.get_by_test_id("weight-format")).to_contain_text("ONNX")
    expect(page.get_by_test_id("files")).to_contain_text("model.onnx")
    w.shot("model-page-onnx")

    # A version in Forge's old private format (marked by the migration): said so, with
    # what to do, and nothing offered that would fail.
    ModelVersion.objects.filter(pk=child.pk).update(weight_format="forge-legacy")
    page.goto(w.url(f"/models/{child.pk}/"))
    expect(page.get_by_test_id("legacy")).to_contain_text("full-precision parent")
    expect(page.get_by_test_id("weight-format")).to_contain_text("Forge-only")
    w.shot("model-page-legacy")
    w.assert_clean(expected_statuses=(400,))
