"""Chat and preference datasets through the API and the pages: created with their kind,
uploaded as JSONL, ingested by a real job with every turn's PII masked, refused line by
line when bad (no version), and kept away from the text-only steps with the reason."""

from __future__ import annotations

import json

import pytest

from console.data.models import DatasetVersion
from console.data.selectors import version_records
from console.jobs.models import Job
from tests.data.helpers import files_under, run_job, upload_file

pytestmark = pytest.mark.django_db

CHAT = [
    {"messages": [{"role": "system", "content": "You answer for the court registry."},
                  {"role": "user", "content": "Where do I send the form? I am jane@example.org"},
                  {"role": "assistant", "content": "Send it to registry@example.gov.uk."}]},
    {"messages": [{"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hello. How can I help?"},
                  {"role": "user", "content": "My card 4111 1111 1111 1111 was charged twice."},
                  {"role": "assistant", "content": "I will ask billing to refund one charge."}]},
]  # fmt: skip


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def create(api, personas, **body):
    made = api(personas.data_engineer).post(
        "/api/v1/datasets/", {"project": "alpha", "name": "support", **body}, format="json"
    )
    assert made.status_code == 201, made.content
    return made.json()


def upload(api, personas, dataset_id, name, content):
    return api(personas.data_engineer).post(
        f"/api/v1/datasets/{dataset_id}/upload/",
        {"file": upload_file(name, content)},
        format="multipart",
    )


def ingest(api, personas, dataset_id, name, content, django_capture_on_commit_callbacks):
    response = upload(api, personas, dataset_id, name, content)
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.spec["records"]
    with django_capture_on_commit_callbacks(execute=True):
        return run_job(job)


def test_chat_upload_makes_a_version_with_every_turn_masked(
    api, personas, data_dir, django_capture_on_commit_callbacks
):
    dataset = create(api, personas, kind="chat")
    assert (dataset["kind"], dataset["columns"]) == ("chat", {})
    job = ingest(api, personas, dataset["id"], "support.jsonl", jsonl(CHAT),
                 django_capture_on_commit_callbacks)  # fmt: skip
    assert job.state == "succeeded", job.error
    version = DatasetVersion.objects.get(dataset_id=dataset["id"])
    assert version.documents == 2
    assert version.source["records"] == "chat"
    assert version.source["pii_masked"] == {"email": 2, "credit_card": 1}
    records = version_records(version=version)
    assert [t["role"] for t in records[1]["messages"]] == ["user", "assistant"] * 2
    stored = json.dumps(records)
    assert "@example" not in stored and "4111 1111 1111 1111" not in stored
    assert records[0]["messages"][0]["content"] == "You answer for the court registry."
    assert files_under(data_dir / "uploads") == []


def test_prompt_response_columns_and_preference_pairs(
    api, personas, data_dir, django_capture_on_commit_callbacks
):
    qa = create(api, personas, kind="chat", columns={"prompt": "q", "response": "a"})
    job = ingest(api, personas, qa["id"], "qa.jsonl", jsonl([{"q": "Hi?", "a": "Hello."}]),
                 django_capture_on_commit_callbacks)  # fmt: skip
    assert job.state == "succeeded", job.error
    (record,) = version_records(version=DatasetVersion.objects.get(dataset_id=qa["id"]))
    assert record == {"messages": [{"role": "user", "content": "Hi?"},
                                   {"role": "assistant", "content": "Hello."}]}  # fmt: skip
    pairs = api(personas.data_engineer).post(
        "/api/v1/datasets/", {"project": "alpha", "name": "prefs", "kind": "preference"},
        format="json",
    ).json()  # fmt: skip
    rows = [{"prompt": "Mail a@b.org?", "chosen": "No.", "rejected": "Sure, a@b.org."}]
    job = ingest(api, personas, pairs["id"], "pairs.jsonl", jsonl(rows),
                 django_capture_on_commit_callbacks)  # fmt: skip
    assert job.state == "succeeded", job.error
    (pair,) = version_records(version=DatasetVersion.objects.get(dataset_id=pairs["id"]))
    assert pair["chosen"] == "No." and "@" not in pair["prompt"] + pair["rejected"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "audio"}, "kind"),
        ({"kind": "preference", "columns": {"prompt": "q", "response": "a"}}, "columns"),
        ({"kind": "chat", "columns": {"prompt": "q"}}, "columns"),
        ({"kind": "chat", "columns": {"prompt": "q", "response": "a", "tool": "t"}}, "columns"),
    ],
)
def test_bad_dataset_kinds_are_refused(api, personas, body, field):
    made = api(personas.data_engineer).post(
        "/api/v1/datasets/", {"project": "alpha", "name": "x", **body}, format="json"
    )
    assert made.status_code == 400 and field in made.json(), made.content


def test_a_bad_first_line_is_refused_at_upload_and_a_later_one_by_the_job(
    api, personas, data_dir, django_capture_on_commit_callbacks
):
    dataset = create(api, personas, kind="chat")
    first = upload(api, personas, dataset["id"], "bad.jsonl", jsonl([{"messages": [
        {"role": "user", "content": "Hi"}]}]))  # fmt: skip
    assert first.status_code == 400
    assert "bad.jsonl: line 1 has no assistant turn" in first.json()["file"][0]
    not_jsonl = upload(api, personas, dataset["id"], "notes.txt", b"plain text\n")
    assert not_jsonl.status_code == 400 and "one .jsonl file" in not_jsonl.json()["file"][0]
    later = [*CHAT, {"messages": [{"role": "user", "content": "Hi"},
                                  {"role": "robot", "content": "Beep"}]}]  # fmt: skip
    job = ingest(api, personas, dataset["id"], "later.jsonl", jsonl(later),
                 django_capture_on_commit_callbacks)  # fmt: skip
    assert job.state == "failed"
    assert "later.jsonl: line 3: messages[1].role 'robot' is not one of" in job.error
    assert not DatasetVersion.objects.filter(dataset_id=dataset["id"]).exists()
    assert files_under(data_dir / "datasets") == []


def test_text_only_steps_refuse_record_versions(
    api, client, personas, data_dir, django_capture_on_commit_callbacks
):
    dataset = create(api, personas, kind="chat")
    ingest(api, personas, dataset["id"], "s.jsonl", jsonl(CHAT), django_capture_on_commit_callbacks)
    version = DatasetVersion.objects.get(dataset_id=dataset["id"])
    engineer = api(personas.data_engineer)
    tokenizer = engineer.post("/api/v1/tokenizers/", {"version": version.pk, "vocab_size": 300},
                              format="json")  # fmt: skip
    assert tokenizer.status_code == 400, tokenizer.content
    assert "holds chat records for fine-tuning" in json.dumps(tokenizer.json())
    clean = engineer.post(f"/api/v1/dataset-versions/{version.pk}/clean/",
                          {"steps": [{"rule": "mask_email"}]}, format="json")  # fmt: skip
    assert clean.status_code == 400 and "the cleaning pipeline" in json.dumps(clean.json())
    client.force_login(personas.viewer)
    page = client.get(f"/data/versions/{version.pk}/").content.decode()
    assert 'data-testid="records"' in page and "registry@example.gov.uk" not in page
    assert "email \u00d72" in page and "Clean this version" not in page
    assert "Train a tokenizer" not in page
