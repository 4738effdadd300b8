"""Feedback on a version's answers: stored with PII masked, refused with the reason
(nothing written) when bad, listed and filtered through the API and the feedback page,
and given from the playground's rating form."""

from __future__ import annotations

import json

import pytest

from console.audit.models import AuditEvent
from console.core.errors import Conflict, FieldErrors, Forbidden
from console.registry.feedback import feedback_create
from console.registry.models import Feedback, Status
from tests.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"


@pytest.fixture
def version(personas):
    return ModelVersionFactory(project=personas.project)


def rate(actor, version, **overrides):
    fields = {
        "prompt": "Summarise the ruling.",
        "output": "The court dismissed the appeal.",
        "scale": "thumbs",
        "rating": 1,
    }
    return feedback_create(actor=actor, version=version, **{**fields, **overrides})


def test_feedback_is_stored_with_pii_masked(personas, version):
    item = rate(
        personas.viewer,
        version,
        prompt=f"Write to {EMAIL} about the claim",
        output=f"Paid with card {CARD}.",
        rating=-1,
        correction=f"Reply to {EMAIL}; never repeat a card number.",
        sampling={"temperature": 0.7, "top_p": 0.92, "max_new_tokens": 64, "seed": 3},
        flagged=True,
        app="support-bot",
    )
    item.refresh_from_db()
    stored = " ".join([item.prompt, item.output, item.correction])
    assert EMAIL not in stored and "4111 1111 1111" not in stored
    assert "[EMAIL]" in item.prompt and item.output.endswith("1111.")
    assert item.pii_masked == {"email": 2, "credit_card": 1}
    assert (item.sentiment, item.flagged, item.app) == ("negative", True, "support-bot")
    assert item.sampling == {"temperature": 0.7, "top_p": 0.92, "max_new_tokens": 64, "seed": 3}
    assert item.created_by == personas.viewer


@pytest.mark.parametrize(
    ("scale", "rating", "sentiment"),
    [("thumbs", 1, "positive"), ("stars", 5, "positive"), ("stars", 4, "positive"),
     ("stars", 3, "neutral"), ("stars", 2, "negative"), ("stars", 1, "negative")],
)  # fmt: skip
def test_sentiment_reads_both_scales(personas, version, scale, rating, sentiment):
    assert rate(personas.viewer, version, scale=scale, rating=rating).sentiment == sentiment


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"prompt": "   "}, "prompt", "must not be empty"),
        ({"prompt": "x" * 41}, "prompt", "over the limit of 40"),
        ({"output": "a\x00b"}, "output", "NUL"),
        ({"correction": "y" * 41}, "correction", "over the limit"),
        ({"rating": 0}, "rating", "1 (up) or -1 (down)"),
        ({"scale": "stars", "rating": 6}, "rating", "1 to 5"),
        ({"rating": True}, "rating", "whole number"),
        ({"scale": "likert"}, "scale", "one of"),
        ({"sampling": {"temprature": 1}}, "sampling", "unknown setting"),
        ({"sampling": {"top_p": 1.5}}, "sampling", "between 0 and 1"),
        ({"sampling": {"seed": 1.5}}, "sampling", "whole number"),
        ({"sampling": {"temperature": float("nan")}}, "sampling", "a number"),
        ({"sampling": [1]}, "sampling", "an object"),
        ({"app": "bot\nname"}, "app", "printable"),
        ({"flagged": "yes"}, "flagged", "true or false"),
    ],
)
def test_bad_feedback_is_refused_with_the_reason(personas, version, settings, overrides, field,
                                                  message):  # fmt: skip
    settings.FORGE_FEEDBACK_MAX_CHARS = 40
    with pytest.raises(FieldErrors) as refused:
        rate(personas.viewer, version, **overrides)
    assert message in " ".join(refused.value.errors[field])
    assert not Feedback.objects.exists()


def test_who_may_rate_and_what(personas, version):
    no_role = UserFactory(username="norole")
    with pytest.raises(Forbidden):
        rate(no_role, version)
    version.status = Status.ARCHIVED
    version.save()
    with pytest.raises(Conflict, match="archived"):
        rate(personas.ml_engineer, version)
    assert not Feedback.objects.exists()


# ------------------------------------------------------------------ API


def test_api_records_and_filters_feedback(api, personas, version):
    url = f"/api/v1/models/{version.pk}/feedback/"
    viewer = api(personas.viewer)
    made = viewer.post(
        url,
        {"prompt": f"Mail {EMAIL}", "output": "No.", "rating": -1, "app": "support-bot",
         "correction": "Yes.", "sampling": {"temperature": 0.2}},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["prompt"] == "Mail [EMAIL]" and made.json()["source"] == "api"
    good = viewer.post(url, {"prompt": "Hi", "output": "Hello", "scale": "stars", "rating": 5},
                       format="json")  # fmt: skip
    assert good.status_code == 201, good.content

    def ids(query: str) -> list[int]:
        answer = viewer.get(url + query)
        assert answer.status_code == 200, answer.content
        return [row["id"] for row in answer.json()["results"]]

    bad_id, good_id = made.json()["id"], good.json()["id"]
    assert ids("") == [good_id, bad_id]
    assert ids("?sentiment=negative") == [bad_id]
    assert ids("?corrected=yes") == [bad_id] and ids("?corrected=no") == [good_id]
    assert ids("?app=support-bot") == [bad_id] and ids("?q=hello") == [good_id]
    assert ids("?flagged=yes") == []
    assert viewer.get(url + "?sentiment=great").status_code == 400


def test_api_refusals(api, personas, version):
    url = f"/api/v1/models/{version.pk}/feedback/"
    body = {"prompt": "p", "output": "o", "rating": 1}
    assert api().post(url, body, format="json").status_code == 401
    assert api(personas.stranger).post(url, body, format="json").status_code == 404
    assert api(personas.stranger).get(url).status_code == 404
    assert api(personas.outsider).post(url, body, format="json").status_code == 403
    bad = api(personas.viewer).post(url, {**body, "rating": 0}, format="json")
    assert bad.status_code == 400 and "rating" in bad.json()
    missing = api(personas.viewer).post(url, {"output": "o", "rating": 1}, format="json")
    assert missing.status_code == 400 and "prompt" in missing.json()
    version.status = Status.ARCHIVED
    version.save()
    assert api(personas.viewer).post(url, body, format="json").status_code == 409
    assert not Feedback.objects.exists()


# ------------------------------------------------------------------ pages


def test_feedback_page_states(client, personas, version):
    client.force_login(personas.viewer)
    url = f"/models/{version.pk}/feedback/"
    empty = client.get(url).content.decode()
    assert "No feedback on court-lm" in empty and 'data-testid="fb-total">0<' in empty
    rate(personas.viewer, version, rating=-1, correction="Better.", flagged=True)
    rate(personas.viewer, version, scale="stars", rating=5)
    page = client.get(url).content.decode()
    assert 'data-testid="fb-total">2<' in page and 'data-testid="flagged"' in page
    assert '"days": ["' in page  # the chart's series
    assert "SFT rows (JSONL) · 2" in page and "Preference pairs (JSONL) · 1" in page
    only_good = client.get(url + "?sentiment=positive", HTTP_HX_REQUEST="true").content.decode()
    assert "★★★★★" in only_good and "Better." not in only_good and "<html" not in only_good
    none = client.get(url + "?sentiment=neutral").content.decode()
    assert "No feedback matches these filters" in none
    assert client.get(url + "?flagged=maybe").status_code == 400
    client.force_login(personas.stranger)
    assert client.get(url).status_code == 404


def test_playground_rating_form(client, personas, version):
    url = f"/models/{version.pk}/feedback/new/"
    form = {"prompt": "The court", "output": " ruled.", "temperature": "0.7", "seed": "0",
            "rating": "-1", "correction": f"Ask {EMAIL}", "flagged": "on"}  # fmt: skip
    client.force_login(personas.viewer)
    saved = client.post(url, form, HTTP_HX_REQUEST="true")
    assert saved.status_code == 201 and b'data-testid="feedback-saved"' in saved.content
    item = Feedback.objects.get()
    assert (item.source, item.rating, item.flagged) == ("playground", -1, True)
    assert item.correction == "Ask [EMAIL]" and item.sampling == {"temperature": 0.7, "seed": 0}
    bad = client.post(url, {**form, "rating": "0"})
    assert bad.status_code == 400 and Feedback.objects.count() == 1
    assert client.get(url).status_code == 405
    client.force_login(personas.stranger)
    assert client.post(url, form).status_code == 404


# ------------------------------------------------------------------ export


def test_export_rows_load_with_the_datasets_library(api, personas, version, tmp_path):
    """The JSONL downloads are what TRL's SFT/DPO trainers read: loaded here with the
    ecosystem's own loader (datasets), not Forge's."""
    from datasets import load_dataset

    corrected = rate(personas.viewer, version, prompt=f"Ask {EMAIL}", output="No.", rating=-1,
                     correction="Yes, gladly.")  # fmt: skip
    liked = rate(personas.viewer, version, prompt="Hi", output="Hello!", rating=1)
    rate(personas.viewer, version, prompt="Bye", output="Gone.", rating=-1)  # no row
    rate(personas.viewer, version, prompt="Empty", output="", rating=1)  # no answer: no row
    viewer = api(personas.viewer)
    url = f"/api/v1/models/{version.pk}/feedback/export/"
    for layout in ("sft", "preference"):
        answer = viewer.get(f"{url}?layout={layout}")
        assert answer.status_code == 200 and answer["Content-Type"].startswith(
            "application/x-ndjson"
        )
        assert (
            f"court-lm-v{version.number}-feedback-{layout}.jsonl" in answer["Content-Disposition"]
        )
        path = tmp_path / f"{layout}.jsonl"
        path.write_bytes(b"".join(answer.streaming_content))
        rows = load_dataset("json", data_files=str(path), split="train")
        if layout == "sft":
            assert rows["feedback_id"] == [corrected.pk, liked.pk]
            assert rows["messages"][0] == [
                {"role": "user", "content": "Ask [EMAIL]"},
                {"role": "assistant", "content": "Yes, gladly."},
            ]
            assert rows["messages"][1][1]["content"] == "Hello!"
        else:
            assert rows.column_names == ["prompt", "chosen", "rejected", "feedback_id"]
            assert rows[0] == {"prompt": "Ask [EMAIL]", "chosen": "Yes, gladly.",
                               "rejected": "No.", "feedback_id": corrected.pk}  # fmt: skip
            assert len(rows) == 1
    only_liked = viewer.get(f"{url}?layout=sft&sentiment=positive")
    assert b"".join(only_liked.streaming_content).count(b"\n") == 1  # Hello! only
    events = AuditEvent.objects.filter(action="feedback.export", actor=personas.viewer)
    assert events.count() == 3
    assert events.order_by("-id").first().after == {
        "layout": "sft",
        "filters": {"sentiment": "positive"},
    }


def test_export_refusals(api, client, personas, version):
    url = f"/api/v1/models/{version.pk}/feedback/export/"
    assert api(personas.viewer).get(url).status_code == 400
    assert api(personas.viewer).get(url + "?layout=csv").status_code == 400
    assert api(personas.viewer).get(url + "?layout=sft&flagged=maybe").status_code == 400
    assert api(personas.stranger).get(url + "?layout=sft").status_code == 404
    assert api().get(url + "?layout=sft").status_code == 401
    client.force_login(personas.viewer)
    page = f"/models/{version.pk}/feedback/export.jsonl"
    assert client.get(page + "?layout=sft").status_code == 200
    assert client.get(page + "?layout=xml").status_code == 400
    client.force_login(personas.stranger)
    assert client.get(page + "?layout=sft").status_code == 404
    assert not AuditEvent.objects.filter(action="feedback.export", actor=personas.stranger)


def test_a_session_post_without_csrf_writes_nothing(personas, version):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.viewer)
    form = {"prompt": "p", "output": "o", "rating": "1"}
    assert client.post(f"/models/{version.pk}/feedback/new/", form).status_code == 403
    api_post = client.post(
        f"/api/v1/models/{version.pk}/feedback/", form, content_type="application/json"
    )
    assert api_post.status_code == 403
    assert not Feedback.objects.exists()


# ------------------------------------------------------------------ to a dataset version


def test_feedback_becomes_a_fine_tuning_dataset_version(
    api, personas, version, settings, tmp_path, django_capture_on_commit_callbacks
):
    from console.data.models import Dataset, DatasetVersion
    from console.data.selectors import version_records
    from console.jobs.models import Job
    from tests.data.helpers import run_job

    settings.FORGE_DATA_DIR = tmp_path / "forge-data"
    rate(personas.viewer, version, prompt=f"Ask {EMAIL}", output="No.", rating=-1,
         correction="Yes, gladly.")  # fmt: skip
    rate(personas.viewer, version, prompt="Hi", output="Hello!", rating=1)
    url = f"/api/v1/models/{version.pk}/feedback/to-dataset/"
    engineer = api(personas.ml_engineer)
    made = engineer.post(url, {"layout": "sft", "name": "support fixes"}, format="json")
    assert made.status_code == 201, made.content
    job = Job.objects.get(pk=made.json()["id"])
    assert job.kind == "data.ingest" and job.spec["records"] == "chat"
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job).state == "succeeded", job.error
    dataset = Dataset.objects.get(name="support fixes")
    assert (dataset.kind, dataset.project_id) == ("chat", version.project_id)
    records = version_records(version=DatasetVersion.objects.get(dataset=dataset))
    assert records == [
        {"messages": [{"role": "user", "content": "Ask [EMAIL]"},
                      {"role": "assistant", "content": "Yes, gladly."}]},
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello!"}]},
    ]  # fmt: skip
    # preference pairs into the same project's preference dataset, filtered
    pairs = engineer.post(url + "?corrected=yes", {"layout": "preference"}, format="json")
    assert pairs.status_code == 201, pairs.content
    assert AuditEvent.objects.filter(action="feedback.to_dataset").count() == 2

    # refusals: a dataset of the wrong kind, nothing to export, no data.write
    wrong = engineer.post(url, {"layout": "preference", "dataset": dataset.pk}, format="json")
    assert wrong.status_code == 400 and "preference dataset" in json.dumps(wrong.json())
    nothing = engineer.post(url + "?sentiment=neutral", {"layout": "sft"}, format="json")
    assert nothing.status_code == 400 and "No feedback item makes" in json.dumps(nothing.json())
    assert api(personas.viewer).post(url, {"layout": "sft"}, format="json").status_code == 403
    assert Dataset.objects.count() == 2  # nothing half-made by the refusals
    assert list((tmp_path / "forge-data" / "uploads" / ".incoming").glob("*")) == []
