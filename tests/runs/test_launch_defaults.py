"""The launch form and service with what a new user has: an older corpus chosen on the
form, a corpus too small for the batch, a CPU-only fleet, lr and schedule as fields."""

from __future__ import annotations

import html
import json
import re

import pytest

from console.fleet.models import Node
from console.jobs.models import Job
from console.runs import services
from console.runs.models import Run
from tests.runs.conftest import CPU_RUN, make_corpus
from tests.test_cli import config_file, forge, milo  # noqa: F401 - fixtures

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


# ------------------------------------------------------------------ defaults (item 11)


def gpus_field(body: str) -> str:
    found = re.search(r'<input type="number" name="gpus_per_node" value="(\d+)"', body)
    assert found, body[:3000]
    return found.group(1)


def test_the_form_starts_at_cpu_on_a_cpu_only_fleet(client, personas, corpus, make_node):
    client.force_login(personas.ml_engineer)
    make_node("cpu-a", gpus=0)  # online, no GPU
    body = html.unescape(client.get("/runs/new/").content.decode())
    assert gpus_field(body) == "0"
    assert "No online node has a GPU, so the run trains on CPU processes (gloo): 0." in body
    # the defaults launch as they are
    form = {"corpus": corpus.pk, "preset": "tiny", "steps": 12, "micro_batch": 4}
    form |= {"grad_accum": 2, "zero_stage": 2, "nodes": 1, "checkpoint_every": 5}
    form |= {"max_restarts": 2, "gpus_per_node": gpus_field(body)}
    assert client.post("/runs/new/", form).status_code == 302
    assert Run.objects.get().spec["gpus_per_node"] == 0

    make_node("gpu-a", gpus=2)
    body = html.unescape(client.get("/runs/new/").content.decode())
    assert gpus_field(body) == "1"
    assert "1 online node has GPUs (at most 2 on one)." in body


def test_the_api_follows_the_fleet_when_gpus_are_left_out(api, personas, corpus, make_node):
    client = api(personas.ml_engineer)
    launch = {"corpus": corpus.pk, "preset": "tiny", "steps": 12, "zero_stage": 2}
    reply = client.post("/api/v1/runs/", launch, format="json")
    assert reply.status_code == 201, reply.content
    spec = reply.json()["spec"]
    assert (spec["gpus_per_node"], spec["bf16"]) == (0, False)  # no node at all: CPU
    make_node("gpu-a", gpus=2)
    reply = client.post("/api/v1/runs/", launch, format="json")
    assert reply.status_code == 201, reply.content
    assert reply.json()["spec"]["gpus_per_node"] == 1
    Node.objects.filter(name="gpu-a").update(status=Node.Status.OFFLINE)
    reply = client.post("/api/v1/runs/", launch, format="json")
    assert reply.json()["spec"]["gpus_per_node"] == 0  # the GPU node went offline


def test_lr_warmup_and_schedule_from_the_form(client, personas, corpus):
    client.force_login(personas.ml_engineer)
    body = html.unescape(client.get("/runs/new/").content.decode())
    assert "Empty: the preset's (tiny 0.001, 125m 0.0006, 1b 0.0002, deepseek-7b 3e-05" in body
    for name in ("lr", "warmup_steps", "schedule_steps"):
        assert f'name="{name}"' in body
    reply = client.post(
        "/runs/new/",
        form_of(corpus, steps=100, lr="0.002", warmup_steps=5, schedule_steps=400),
    )
    assert reply.status_code == 302, reply.content.decode()[:3000]
    run = Run.objects.get()
    assert run.spec["optimizer"]["lr"] == 0.002
    assert run.spec["scheduler"] == {"warmup_steps": 5, "total_steps": 400}
    scheduler = run.deepspeed["scheduler"]
    assert scheduler["type"] == "WarmupDecayLR"
    assert scheduler["params"]["warmup_max_lr"] == run.deepspeed["optimizer"]["params"]["lr"]
    assert (scheduler["params"]["warmup_num_steps"], scheduler["params"]["total_num_steps"]) == (
        5,
        400,
    )
    short = client.post("/runs/new/", form_of(corpus, steps=100, schedule_steps=50))
    assert short.status_code == 400
    assert "must be at least the run&#x27;s steps (100)" in short.content.decode()
    assert Run.objects.count() == 1


def test_lr_defaults_follow_the_preset(personas, corpus):
    tiny = services.run_create(
        actor=personas.ml_engineer, project=personas.project, corpus=corpus, **CPU_RUN
    )
    assert tiny.spec["optimizer"]["lr"] == 1e-3
    assert tiny.spec["scheduler"] == {"warmup_steps": 1, "total_steps": 12}  # a tenth, steps
    custom = services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, "preset": "custom", "base_preset": "125m", "model": {"num_layers": 1}},
    )
    assert custom.spec["optimizer"]["lr"] == 6e-4


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"lr": 2.0}, "lr", "must be between 0 and 1"),
        ({"lr": 0}, "lr", "must be between 0 and 1"),
        ({"warmup_steps": 12, "schedule_steps": 12}, "schedule_steps", "greater than warmup"),
        ({"schedule_steps": 6}, "schedule_steps", "at least the run's steps (12)"),
        ({"warmup_steps": -1}, "warmup_steps", "greater than or equal to 0"),
    ],
)
def test_the_api_refuses_a_bad_schedule_on_its_field(api, personas, corpus, fields, field, message):
    reply = api(personas.ml_engineer).post(
        "/api/v1/runs/", {"corpus": corpus.pk, **CPU_RUN, **fields}, format="json"
    )
    assert reply.status_code == 400, reply.content
    assert message in " ".join(reply.json()[field]), reply.json()
    assert nothing_written()


@pytest.mark.django_db(transaction=True)
def test_the_cli_sets_lr_and_schedule_and_hears_a_refusal(forge, milo, personas, data_dir):  # noqa: F811
    corpus = make_corpus(personas.project)
    result = forge(
        "runs", "create", "--corpus", str(corpus.pk), "--preset", "tiny", "--steps", "40",
        "--zero-stage", "2", "--grad-accum", "2", "--lr", "0.003", "--warmup-steps", "4",
        "--schedule-steps", "80", "--json", **milo,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec = Run.objects.get(pk=json.loads(result.stdout)["id"]).spec
    assert spec["gpus_per_node"] == 0  # no GPU node online: the fleet's default
    assert spec["optimizer"]["lr"] == 0.003
    assert spec["scheduler"] == {"warmup_steps": 4, "total_steps": 80}
    small = make_corpus(
        personas.project, seq_len=2048, train_sequences=1, val_sequences=1, key="corpora/job-8"
    )
    refused = forge(
        "runs", "create", "--corpus", str(small.pk), "--preset", "tiny", "--steps", "10",
        **milo,
    )  # fmt: skip
    assert refused.returncode == 1
    assert f"corpus {small.pk} {TOO_SMALL}" in " ".join(refused.stderr.split())
    assert Run.objects.count() == 1
