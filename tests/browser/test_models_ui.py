"""A new user's model flow in the browser, with a real Celery worker running the jobs:
from a run's checkpoint, register a model, evaluate its perplexity, make an INT8
version, and read the measured comparison table. Screenshots of the model page land in
test-artifacts/screenshots/."""

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
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"), timeout=30_000)
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", re.compile("succeeded|failed"), timeout=180_000)
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

    page.locator("#quantize-form").get_by_label("Method").select_option("int8")
    page.locator("#quantize-form").get_by_role("button", name="Quantize").click()
    finish_job(w, "quantize")
    child = ModelVersion.objects.get(parent=version)
    expect(page.get_by_role("heading", name=str(child))).to_be_visible()
    table = page.get_by_test_id("comparison")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("int8")
    expect(table.get_by_test_id("ppl-delta").nth(1)).to_have_text(re.compile(r"^[+-]\d"))
    page.goto(w.url(f"/models/{version.pk}/"))
    expect(page.locator('[data-chart="perplexity"] .main-svg').first).to_be_visible(timeout=15_000)
    w.shot("model-page")
    w.assert_clean()
