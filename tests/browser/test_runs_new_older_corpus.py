"""/runs/new/ with two corpora: an ML engineer picks the older one (not the form's
first choice) and launches; the run trains on the corpus chosen (it answered 500). On
this fleet without GPUs the form starts at 0 GPUs and says why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.runs.models import Run
from tests.runs.conftest import make_corpus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_launch_on_an_older_corpus(web, personas, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    older = make_corpus(personas.project, key="corpora/job-3")
    newer = make_corpus(personas.project, key="corpora/job-4")
    w = web()
    w.login(personas.ml_engineer, next_path="/runs/new/")
    page = w.page
    corpus = page.get_by_label("Corpus", exact=True)
    expect(corpus).to_have_value(str(newer.pk))  # the newest is offered first
    corpus.select_option(str(older.pk))
    page.get_by_label("Name").fill("on the older corpus")
    page.get_by_label("Steps").fill("12")
    page.get_by_label("Gradient accumulation").fill("2")
    page.get_by_label("ZeRO stage").select_option("2")
    gpus = page.get_by_label("Gpus per node", exact=True)
    expect(gpus).to_have_value("0")  # no node with a GPU is online: CPU processes
    expect(page.locator("#id_gpus_per_node_helptext")).to_contain_text("No online node has a GPU")
    page.get_by_label("Learning rate").fill("0.002")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("on the older corpus")
    run = Run.objects.get()
    assert run.corpus_id == older.pk and page.url.endswith(f"/runs/{run.pk}/")
    assert (run.spec["gpus_per_node"], run.spec["optimizer"]["lr"]) == (0, 0.002)
    w.assert_clean()
