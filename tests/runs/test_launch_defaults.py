"""The launch form and service with what a new user has: an older corpus chosen on the
form, a corpus too small for the batch, a CPU-only fleet, lr and schedule as fields."""

from __future__ import annotations

import pytest

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
