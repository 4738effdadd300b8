"""The launch form and service with what a new user has: an older corpus chosen on the
form, a corpus too small for the batch, a CPU-only fleet, lr and schedule as fields."""

from __future__ import annotations

import html
import re

import pytest

from console.jobs.models import Job
from console.runs import services
from console.runs.models import Run
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.django_db]


def form_of(corpus, **extra) -> dict:
    return {"corpus": corpus.pk, "checkpoint_every": 5, "max_restarts": 2, **CPU_RUN, **extra}


def test_new_form_launches_on_an_older_corpus(client, personas, data_dir):
    older = make_corpus(personas.project, key="corpora/job-3")
    newer = make_corpus(personas.project, key="corpora/job-4")
    client.force_login(personas.ml_engineer)
    page = client.get("/runs/new/")
    body = page.content.decode()
    # both are offered, the newest first
    assert body.index(f'value="{newer.pk}"') < body.index(f'value="{older.pk}"')
    reply = client.post("/runs/new/", form_of(older))
    assert reply.status_code == 302, reply.content.decode()[:2000]
    run = Run.objects.get()
    assert run.corpus_id == older.pk and reply["Location"] == f"/runs/{run.pk}/"
    assert run.spec["data"]["corpus_dir"].endswith("corpora/job-3")


# ------------------------------------------------------------------ corpus too small (item 9)

TOO_SMALL = (
    "has 1 training sequence at length 2048; one optimizer step of this run needs 32 "
    "(micro-batch 4 × accumulation 8 × 1 process). Tokenize at a shorter length or lower "  # noqa: RUF001
    "the batch."
)


@pytest.fixture
def tiny_set(personas, data_dir):
    """A small set tokenized at 2048: one training sequence, one for validation."""
    return make_corpus(
        personas.project, seq_len=2048, train_sequences=1, val_sequences=1, key="corpora/job-7"
    )


def nothing_written() -> bool:
    return not Run.objects.exists() and not Job.objects.exists()


def test_the_service_refuses_a_corpus_smaller_than_one_step(personas, tiny_set):
    launch = {**CPU_RUN, "grad_accum": 8}
    with pytest.raises(services.FieldErrors) as refused:
        services.run_create(
            actor=personas.ml_engineer, project=personas.project, corpus=tiny_set, **launch
        )
    step, evaluation = refused.value.errors["corpus"]
    assert step == f"corpus {tiny_set.pk} {TOO_SMALL}"
    assert evaluation == (
        f"corpus {tiny_set.pk} has 1 validation sequence at length 2048; evaluating this run "
        "needs 4 (micro-batch 4 × 1 process). Tokenize with a larger validation share or at "  # noqa: RUF001
        "a shorter length, or lower the micro-batch."
    )
    assert nothing_written()


def test_the_batch_that_fits_launches_and_processes_count(personas, data_dir):
    corpus = make_corpus(personas.project, train_sequences=32, val_sequences=4)
    run = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "grad_accum": 8},  # 4 x 8 x 1 = 32: exactly one step
    )
    assert run.job_id is not None
    with pytest.raises(services.FieldErrors) as refused:  # two nodes: 64 a step
        services.run_create(
            actor=personas.ml_engineer,
            project=personas.project,
            corpus=corpus,
            **{**CPU_RUN, "grad_accum": 8, "nodes": 2},
        )
    [step, evaluation] = refused.value.errors["corpus"]
    assert "needs 64 (micro-batch 4 × accumulation 8 × 2 processes)" in step  # noqa: RUF001
    assert "has 4 validation sequences at length 64; evaluating this run needs 8" in evaluation
    assert Run.objects.count() == 1


def test_the_api_answers_400_naming_the_corpus(api, personas, tiny_set):
    reply = api(personas.ml_engineer).post(
        "/api/v1/runs/",
        {"corpus": tiny_set.pk, **CPU_RUN, "grad_accum": 8},
        format="json",
    )
    assert reply.status_code == 400, reply.content
    assert reply.json()["corpus"][0] == f"corpus {tiny_set.pk} {TOO_SMALL}"
    assert nothing_written()


def test_the_form_shows_the_error_on_the_corpus_field(client, personas, tiny_set):
    client.force_login(personas.ml_engineer)
    reply = client.post("/runs/new/", form_of(tiny_set, grad_accum=8))
    assert reply.status_code == 400
    body = html.unescape(reply.content.decode())
    errors = re.search(r'<ul class="errorlist" id="id_corpus_error"[^>]*>(.*?)</ul>', body, re.S)
    assert errors is not None and TOO_SMALL in errors.group(1), body[:3000]
    assert nothing_written()
