"""A new user's data flow in the browser, with a real Celery worker running the jobs:
create a dataset, upload a JSONL (progress bar), ingest, clean with chosen rules, read
the report charts, train a small tokenizer, tokenize, read the corpus's token count.
Screenshots of each page land in test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from console.data.models import DatasetVersion, TokenizedCorpus, Tokenizer
from console.jobs.models import Job
from tests.browser.conftest import PHONE
from tests.data.helpers import SAMPLE
from tests.processes import CeleryWorker, broker_purge

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Records what the upload progress bar showed; sessionStorage survives the navigation
# to the job page that follows a successful upload.
WATCH_PROGRESS = """() => {
  const bar = document.querySelector("#upload-progress [role=progressbar]");
  const box = document.getElementById("upload-progress");
  const seen = [];
  new MutationObserver(() => {
    seen.push({value: bar.getAttribute("aria-valuenow"), shown: !box.hidden});
    sessionStorage.setItem("upload-progress", JSON.stringify(seen));
  }).observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
}"""


@pytest.fixture
def data_settings(settings, tmp_path, monkeypatch):
    """One FORGE_DATA_DIR for the live server (this process) and the worker."""
    settings.FORGE_DATA_DIR = tmp_path / "forge-data"
    monkeypatch.setenv("FORGE_DATA_DIR", str(settings.FORGE_DATA_DIR))
    return settings.FORGE_DATA_DIR


@pytest.fixture
def worker(data_settings, tmp_path):
    broker_purge()
    with CeleryWorker(tmp_path / "worker.log") as proc:
        yield proc
        proc.kill9()  # its jobs are over; a warm shutdown only adds seconds


def corpus_file(tmp_path):
    """About 360 documents of the sample corpus (English and Chinese), with planted
    duplicates and PII, as a JSONL whose text is in the field "content"."""
    lines = []
    for name, count in (("en.jsonl", 180), ("zh.jsonl", 180)):
        with (SAMPLE / name).open(encoding="utf-8") as f:
            for _, line in zip(range(count), f, strict=False):
                lines.append(json.dumps({"content": json.loads(line)["text"]}, ensure_ascii=False))
    lines += lines[:5]  # exact duplicates
    path = tmp_path / "court-rulings.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_and_open_result(w, what: str) -> None:
    """On a job page: wait (htmx polling) for success, then follow 'Open the result'."""
    page = w.page
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-state", re.compile("succeeded|failed"), timeout=90_000)
    assert status.get_attribute("data-state") == "succeeded", page.locator("#job-log").inner_text()
    w.shot(f"data-job-{what}")
    page.get_by_test_id("output").click()


def test_upload_clean_tokenize_in_the_browser(web, personas, worker, tmp_path):
    w = web()
    w.login(personas.data_engineer, next_path="/data/")
    page = w.page
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Data")
    ).to_be_visible()
    w.shot("data-list-empty")

    # A dataset whose JSONL keeps its text under "content".
    new = page.locator("form[action='/data/new/']")
    new.get_by_label("Project").select_option(label="Alpha team")
    new.get_by_label("Name").fill("Court rulings")
    new.get_by_label("Text field").fill("content")
    new.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Court rulings")).to_be_visible()
    expect(page.locator(".msg-success")).to_contain_text("Upload its first file")

    # A file that is not text: refused with the reason, no job.
    bad = tmp_path / "scan.jsonl"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-error")).to_contain_text("it looks like a PNG image")
    expect(page.get_by_label("File", exact=True)).to_have_attribute("aria-invalid", "true")
    w.shot("data-upload-refused")
    assert not Job.objects.exists()

    # Upload over a slow link (150 KB/s), watching the progress bar move.
    cdp = w.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 150_000},
    )
    page.evaluate(WATCH_PROGRESS)
    page.get_by_label("File", exact=True).set_input_files(str(corpus_file(tmp_path)))
    page.get_by_role("button", name="Upload").click()
    bar = page.locator("#upload-progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^([1-9]|[1-9][0-9])$"))
    w.shot("data-upload-progress")
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"), timeout=60_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = json.loads(page.evaluate("sessionStorage.getItem('upload-progress')") or "[]")
    assert seen and seen[-1] == {"value": "100", "shown": True}, seen
    assert any(0 < int(s["value"]) < 100 for s in seen), seen  # it moved, not jumped
    wait_and_open_result(w, "ingest")

    # Version 1: 365 documents, English and Chinese.
    expect(page.get_by_role("heading", name="Court rulings · v1")).to_be_visible()
    expect(page.get_by_test_id("documents")).to_have_text("365")
    w.shot("data-version-1")

    # Clean: the default rules plus URL removal, a stricter length filter.
    form = page.locator("#clean")
    form.locator("fieldset[data-rule=remove_urls]").get_by_role("checkbox").check()
    length = form.locator("fieldset[data-rule=length_filter]")
    length.locator("summary").click()
    length.get_by_label("min_chars").fill("40")
    page.get_by_role("button", name="Start cleaning").click()
    wait_and_open_result(w, "clean")

    # Version 2 and its report, as charts.
    expect(page.get_by_role("heading", name="Court rulings · v2")).to_be_visible()
    report = page.locator("#report")
    expect(report.get_by_role("heading", name="Cleaning report")).to_be_visible()
    for chart in ("in_out", "funnel", "rules", "pii", "dedup", "length_histogram"):
        expect(report.locator(f"[data-chart={chart}] .main-svg").first).to_be_visible(
            timeout=60_000
        )
    expect(page.get_by_test_id("report-steps")).to_contain_text("Mask e-mail addresses")
    expect(page.get_by_test_id("lineage")).to_contain_text("v1")
    v2 = DatasetVersion.objects.get(number=2)
    assert v2.report["dedup"][0]["duplicates"] >= 5 and v2.report["pii"]["email"] > 0
    w.shot("data-version-2-report")

    # A small tokenizer.
    tok_form = page.locator("#tokenizer-form")
    tok_form.get_by_label("Vocab size").fill("500")
    tok_form.get_by_label("Name").fill("rulings-bpe-500")
    tok_form.get_by_role("button", name="Train tokenizer").click()
    wait_and_open_result(w, "tokenizer")
    expect(page.get_by_role("heading", name="rulings-bpe-500")).to_be_visible()
    expect(page.get_by_test_id("vocab-size")).to_have_text("500")
    expect(page.get_by_test_id("samples").locator(".tok").first).to_be_visible()
    assert Tokenizer.objects.get().bytes_per_token > 1
    w.shot("data-tokenizer")

    # Tokenize version 2 with it.
    tz = page.locator("#tokenize-form")
    tz.get_by_label("Dataset version").select_option(label="Court rulings v2")
    tz.get_by_label("Sequence length").fill("128")
    tz.get_by_label("Validation share").fill("0.1")
    tz.get_by_role("button", name="Tokenize").click()
    wait_and_open_result(w, "tokenize")
    corpus = TokenizedCorpus.objects.get()
    expect(page.get_by_role("heading", name=f"Tokenized corpus #{corpus.pk}")).to_be_visible()
    expect(page.get_by_test_id("total-tokens")).to_have_text(f"{corpus.total_tokens:,}")
    assert corpus.total_tokens > 10_000 and corpus.val_tokens > 0
    expect(page.get_by_test_id("shards")).to_contain_text("train-00000.bin")
    w.shot("data-corpus")

    # The dataset page shows both versions as a lineage, and what was made from them.
    w.goto(f"/data/{v2.dataset_id}/")
    expect(page.get_by_test_id("versions").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name="rulings-bpe-500", exact=True)).to_be_visible()
    w.shot("data-dataset")
    w.goto("/data/")
    w.shot("data-list")
    assert w.sideways_overflow() == 0
    w.assert_clean(expected_statuses=(400,))  # the refused upload

    # Every data page on a phone: no sideways scrolling, charts drawn.
    phone = web(PHONE)
    phone.login(personas.data_engineer, next_path="/data/")
    pages = [
        ("/data/", "data-list"),
        (f"/data/{v2.dataset_id}/", "data-dataset"),
        (f"/data/versions/{v2.pk}/", "data-version-2-report"),
        (f"/data/tokenizers/{Tokenizer.objects.get().pk}/", "data-tokenizer"),
        (f"/data/corpora/{corpus.pk}/", "data-corpus"),
    ]
    overflows = {}
    for path, name in pages:
        phone.goto(path)
        if "version" in name:
            phone.page.wait_for_selector("[data-chart=length_histogram] .main-svg")
        phone.shot(name)
        if (overflow := phone.sideways_overflow()) > 0:
            overflows[path] = overflow
    assert overflows == {}, f"data pages scroll sideways on a phone: {overflows}"
    phone.assert_clean()
