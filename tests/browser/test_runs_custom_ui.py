"""A custom model in the browser: an ML engineer picks "custom" on /runs/new/, starts
from a preset, types a shape, sees the exact parameter count and the memory per GPU and
per host follow the fields (and a bad shape's error beside its field), and launches
(the run is created with the exact model; no agent trains it here)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from console.runs.models import Run
from gpu_agent.train.presets import PRESETS, param_count
from gpu_agent.train.spec import ModelSpec
from tests.runs.conftest import make_corpus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_custom_shape_updates_the_estimate_and_launches(web, personas, settings, tmp_path):
    settings.FORGE_DATA_DIR = tmp_path / "data"
    settings.FORGE_RUNS_DIR = tmp_path / "runs"
    corpus = make_corpus(personas.project, vocab=480, seq_len=64)
    w = web()
    w.login(personas.ml_engineer, next_path="/runs/new/")
    page = w.page
    fieldset = page.get_by_test_id("custom-model")
    expect(fieldset).to_be_hidden()  # a named preset needs none of it

    page.get_by_label("Corpus", exact=True).select_option(str(corpus.pk))
    # a GPU asked for (the form starts at 0 on this fleet, which has none)
    page.get_by_label("Gpus per node", exact=True).fill("1")
    page.get_by_label("Preset", exact=True).select_option("custom")
    expect(fieldset).to_be_visible()
    hidden = page.get_by_label("Hidden size")
    expect(hidden).to_have_value("64")  # tiny's, the default start
    page.get_by_label("Start from").select_option("125m")
    expect(hidden).to_have_value("768")
    expect(page.get_by_label("Layers")).to_have_value("12")

    params = page.get_by_test_id("custom-params")
    gpu = page.get_by_test_id("custom-gpu")
    base = PRESETS["125m"]
    big = param_count(ModelSpec(**{**vars(base), "preset": "custom", "vocab_size": 480}))
    expect(params).to_contain_text(f"{big:,}")
    expect(gpu).to_contain_text("GiB")
    big_gpu = gpu.inner_text()

    hidden.fill("128")
    page.get_by_label("Layers").fill("3")
    page.get_by_label("Attention heads").fill("4")
    page.get_by_label("Intermediate size").fill("344")
    page.get_by_label("Max positions").fill("128")
    shape = {
        **vars(base),
        "preset": "custom",
        "vocab_size": 480,
        "hidden_size": 128,
        "num_layers": 3,
        "num_heads": 4,
        "intermediate_size": 344,
        "max_positions": 128,
    }
    small = param_count(ModelSpec(**shape))
    expect(params).to_contain_text(f"{small:,}")
    assert gpu.inner_text() != big_gpu
    expect(page.get_by_test_id("custom-host")).not_to_have_text("—")
    expect(page.get_by_test_id("custom-fit")).to_contain_text("no free capacity")  # no GPUs

    # A bad shape: the error shows beside its field, the count waits for a good one.
    page.get_by_label("Attention heads").fill("5")
    expect(fieldset.locator('ul[data-field="model.num_heads"]')).to_contain_text(
        "must divide hidden_size"
    )
    expect(params).to_contain_text("fix the fields")
    w.shot("run-new-custom-error")
    page.get_by_label("Attention heads").fill("4")
    expect(params).to_contain_text(f"{small:,}")
    expect(fieldset.locator("ul[data-live]")).to_have_count(0)

    page.get_by_label("Steps", exact=True).fill("20")
    page.get_by_label("Gradient accumulation", exact=True).fill("2")
    page.get_by_label("ZeRO stage", exact=True).select_option("2")
    page.get_by_label("Gpus per node", exact=True).fill("0")
    expect(gpu).to_contain_text("CPU run")
    expect(page.get_by_test_id("custom-fit")).to_have_text("Fits on the fleet")
    w.shot("run-new-custom")

    page.get_by_role("button", name=re.compile("Launch", re.I)).click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"), timeout=60_000)
    run = Run.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert run.preset == "custom" and run.spec["model"] == shape
    assert run.params == small
    w.assert_clean(expected_statuses=(400,))  # the estimate answered the bad shape 400
