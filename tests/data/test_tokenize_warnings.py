"""A corpus too small to train is flagged when it is tokenized (the job's result and log,
and the corpus page), with the numbers; the launch then refuses it (tests/runs)."""

from __future__ import annotations

import pytest

from console.data import services
from console.data.engine.shards import index_warnings
from console.data.models import DatasetVersion, TokenizedCorpus
from console.jobs.models import JobState
from console.runs import services as run_services
from tests.data.helpers import EN, ZH, jsonl_bytes, run_job, staged

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]


def _index(train: int, val: int, *, seq_len: int = 2048, val_fraction: float = 0.01) -> dict:
    return {
        "seq_len": seq_len,
        "split": {"val_fraction": val_fraction, "seed": 0},
        "splits": {
            "train": {"documents": 10, "sequences": train},
            "val": {"documents": 1 if val else 0, "sequences": val},
        },
        "totals": {"documents": 11},
    }


def test_index_warnings_name_the_numbers():
    assert index_warnings(_index(5_000, 50)) == []
    [few] = index_warnings(_index(100, 5))
    assert "only 100 training sequences at length 2048" in few
    assert "fewer than 320 (10 optimizer steps of a default run at 32 sequences a step)" in few
    [one, no_val] = index_warnings(_index(1, 0))
    assert "only 1 training sequence at length 2048" in one
    assert "one optimizer step of a default run needs (32: micro-batch 4 × accumulation 8" in one  # noqa: RUF001
    assert "launch with the default batch is refused" in one
    assert "validation split is empty" in no_val and "val_fraction=0.01 from 11" in no_val
    assert "no validation split" in index_warnings(_index(5_000, 0, val_fraction=0.0))[0]


def test_a_small_set_at_2048_warns_on_the_job_and_the_page_and_cannot_launch(
    client, api, personas, data_dir
):
    dataset = services.dataset_create(
        actor=personas.data_engineer, project=personas.project, name="small"
    )
    job = services.dataset_upload(
        actor=personas.data_engineer,
        dataset=dataset,
        upload=staged(data_dir, "small.jsonl", jsonl_bytes(EN + ZH)),
    )
    assert run_job(job).state == JobState.SUCCEEDED
    version = DatasetVersion.objects.get(dataset=dataset)
    tokenizer_job = run_job(
        services.tokenizer_train(actor=personas.data_engineer, version=version, vocab_size=300)
    )
    assert tokenizer_job.state == JobState.SUCCEEDED, tokenizer_job.error
    job = run_job(
        services.corpus_tokenize(
            actor=personas.data_engineer,
            version=version,
            tokenizer=tokenizer_job.tokenizer,
            seq_len=2048,
            val_fraction=0.3,
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error
    corpus = TokenizedCorpus.objects.get()
    assert job.result["train_sequences"] == 1 and corpus.sequences <= 2
    warning = job.result["warnings"][0]
    assert "only 1 training sequence at length 2048" in warning
    assert f"warning: {warning}" in job.log_tail

    client.force_login(personas.viewer)
    page = client.get(f"/data/corpora/{corpus.pk}/").content.decode()
    assert 'data-testid="corpus-warning"' in page
    assert "Only 1 training sequence at length 2048" in page
    listed = api(personas.viewer).get(f"/api/v1/corpora/{corpus.pk}/").json()
    assert listed["warnings"] == job.result["warnings"]

    with pytest.raises(run_services.FieldErrors) as refused:
        run_services.run_create(
            actor=personas.ml_engineer,
            project=personas.project,
            corpus=corpus,
            preset="tiny",
            steps=10,
            gpus_per_node=0,
        )
    assert refused.value.errors["corpus"][0] == (
        f"corpus {corpus.pk} has 1 training sequence at length 2048; one optimizer step of "
        "this run needs 32 (micro-batch 4 × accumulation 8 × 1 process). Tokenize at a "  # noqa: RUF001
        "shorter length or lower the batch."
    )
