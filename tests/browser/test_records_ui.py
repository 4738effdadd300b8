"""Chat data in the browser, with a real Celery worker ingesting: a data engineer creates
a chat dataset, uploads conversations, is told which line is wrong, then uploads good
ones and reads them (PII masked in every turn) on the version page, where the text-only
steps are not offered. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from console.jobs.models import Job
from tests.browser.test_data_flow import data_settings, wait_and_open_result, worker  # noqa: F401
from tests.data.test_records import CHAT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_create_upload_and_read_a_chat_dataset(web, personas, worker, tmp_path):  # noqa: F811
    w = web()
    w.login(personas.data_engineer, next_path="/data/")
    page = w.page
    new = page.locator("form[action='/data/new/']")
    new.get_by_label("Project").select_option(label="Alpha team")
    new.get_by_label("Name").fill("Support chats")
    new.get_by_label("Holds").select_option("chat")
    new.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Support chats")).to_be_visible()
    expect(page.get_by_test_id("dataset-kind")).to_have_text("chat (conversations for SFT)")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "assistant", "content": "Hi"}]}) + "\n")
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-error")).to_contain_text(
        "bad.jsonl: line 1: messages[0] is an assistant turn where a user turn was due"
    )
    w.shot("records-upload-refused")
    assert not Job.objects.exists()

    good = tmp_path / "support.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in CHAT), encoding="utf-8")
    page.get_by_label("File", exact=True).set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    wait_and_open_result(w, "records-ingest")
    expect(page.get_by_role("heading", name="Support chats · v1")).to_be_visible()
    records = page.get_by_test_id("records")
    expect(records).to_contain_text("Send it to [EMAIL].")
    expect(records.locator("li").nth(1)).to_contain_text("I will ask billing to refund")
    masked = "email \u00d72, credit_card \u00d71"
    expect(page.get_by_test_id("records-note")).to_contain_text(masked)
    expect(page.get_by_role("heading", name="Clean this version")).to_have_count(0)
    expect(page.get_by_role("heading", name="Train a tokenizer")).to_have_count(0)
    w.shot("records-version")
    w.assert_clean(expected_statuses=(400,))  # the refused upload
