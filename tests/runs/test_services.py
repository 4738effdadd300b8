from __future__ import annotations

import json

import pytest

from console.core.errors import Forbidden
from console.jobs.models import Job, JobState
from console.runs import services
from console.runs.models import Checkpoint
from gpu_agent.kinds import KINDS, train_env
from gpu_agent.spec import LaunchSpec, Rendezvous
from gpu_agent.train.dsconfig import deepspeed_config
from gpu_agent.train.spec import TrainSpec
from tests.runs.conftest import CPU_RUN, make_corpus

pytestmark = [pytest.mark.django_db]


def _create(personas, corpus, **overrides):
    return services.run_create(
        actor=personas.ml_engineer,
        project=personas.project,
        corpus=corpus,
        **{**CPU_RUN, **overrides},
    )


def test_cpu_run_submits_a_train_job_with_the_exact_spec(personas, corpus, data_dir):
    run = _create(personas, corpus)
    job = Job.objects.get(pk=run.job_id)
    assert job.kind == TrainSpec.KIND
    assert job.state == JobState.QUEUED
    spec = job.spec
    assert spec["model"]["vocab_size"] == 480  # follows the corpus's tokenizer
    assert spec["model"]["preset"] == "tiny"
    assert spec["data"] == {"corpus_dir": str(data_dir / "corpora" / "job-3"), "seq_len": 64}
    assert spec["checkpoint"]["dir"] == str(data_dir / "runs" / str(run.pk))
    assert spec["bf16"] is False and spec["gpus_per_node"] == 0
    assert run.spec == spec
    assert run.deepspeed == spec["deepspeed"]
    assert run.deepspeed["gradient_accumulation_steps"] == 2
    assert run.params > 0 and run.state == "queued"


def test_user_deepspeed_json_is_stored_as_given(personas, corpus):
    base = {**deepspeed_config(TrainSpec(micro_batch=4, grad_accum=2, gpus_per_node=0))}
    base["zero_optimization"] = {"stage": 2, "reduce_bucket_size": 12345}
    run = _create(personas, corpus, deepspeed_json=json.dumps(base))
    assert run.deepspeed["zero_optimization"]["reduce_bucket_size"] == 12345
    assert Job.objects.get(pk=run.job_id).spec["deepspeed"] == run.deepspeed


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"preset": "gpt-9"}, "preset", "unknown preset"),
        ({"deepspeed_json": "{not json"}, "deepspeed_json", "not valid JSON"),
        ({"deepspeed_json": "[1]"}, "deepspeed_json", "JSON object"),
        (
            {"deepspeed_json": '{"gradient_accumulation_steps": 3}'},
            "deepspeed_json",
            "gradient_accumulation_steps",
        ),
        (
            {"deepspeed_json": '{"zero_optimization": {"stage": 3}}'},
            "deepspeed_json",
            "zero_optimization.stage",
        ),
        ({"nodes": 2}, "gpus_per_node", "2 nodes are needed"),
        ({"zero_stage": 1, "offload_params": True}, "zero.offload_params", "stage 3"),
        ({"bf16": True}, "bf16", "fp32"),
    ],
)
def test_bad_input_is_refused_before_anything_launches(personas, corpus, overrides, field, text):
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, corpus, **overrides)
    assert text in " ".join(caught.value.errors[field])
    assert not Job.objects.exists()


def test_no_free_gpus_is_a_clear_error(personas, corpus):
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, corpus, gpus_per_node=1, zero_stage=3, bf16=True)
    assert "no free capacity" in caught.value.errors["gpus_per_node"][0]


def test_a_model_that_cannot_fit_is_refused(personas, make_node, data_dir):
    make_node("gpu-a", gpus=1)  # one H200
    big = make_corpus(personas.project, vocab=52_000, seq_len=2048, key="corpora/job-9")
    with pytest.raises(services.FieldErrors) as caught:
        _create(personas, big, preset="deepseek-7b", gpus_per_node=1, zero_stage=0, bf16=True)
    assert "cannot fit" in caught.value.errors["gpus_per_node"][0]
    assert not Job.objects.exists()
    # Offloading everything fits the GPU but not the host's 128 GiB.
    with pytest.raises(services.FieldErrors) as caught:
        _create(
            personas,
            big,
            preset="deepseek-7b",
            gpus_per_node=1,
            zero_stage=3,
            offload_optimizer=True,
            offload_params=True,
            bf16=True,
            micro_batch=1,
        )
    assert "host memory" in caught.value.errors["gpus_per_node"][0]
    # ZeRO-3 on one H200 at micro-batch 1 fits (about 118 GiB of 140).
    run = _create(
        personas, big, preset="deepseek-7b", gpus_per_node=1, zero_stage=3, bf16=True, micro_batch=1
    )
    assert run.job.spec["gpus_per_node"] == 1


def test_corpus_of_another_project_and_roles(personas, corpus):
    with pytest.raises(Forbidden):
        services.run_create(
            actor=personas.data_engineer, project=personas.project, corpus=corpus, **CPU_RUN
        )
    with pytest.raises(services.FieldErrors):
        services.run_create(
            actor=personas.stranger, project=personas.other_project, corpus=corpus, **CPU_RUN
        )


def test_checkpoints_register_once_from_the_job(personas, corpus):
    run = _create(personas, corpus)
    services.run_checkpoint_announced(run.job_id, None)
    assert not Checkpoint.objects.exists()
    ckpt = {"step": 5, "tag": "step_5", "dir": "/x/step_5"}
    services.run_checkpoint_announced(run.job_id, ckpt)
    services.run_checkpoint_announced(run.job_id, ckpt)
    assert list(run.checkpoints.values_list("step", "tag")) == [(5, "step_5")]
    services.run_checkpoint_announced(run.job_id, {"step": 10, "tag": "t", "dir": "/d"})
    assert list(run.checkpoints.values_list("step", flat=True)) == [10, 5]


def test_agent_kind_builds_the_deepspeed_launcher(tmp_path):
    spec = TrainSpec(gpus_per_node=0, cpu_procs_per_node=2)
    launch = LaunchSpec(job_id=1, attempt=1, kind="train.run", spec=_dict(spec))
    argv = KINDS["train.run"].argv(launch, tmp_path / "launch.json")
    assert argv[1:4] == ["-u", "-m", "deepspeed.launcher.launch"]
    assert _world(argv[4]) == {"localhost": [0, 1]}
    assert argv[5:7] == ["--node_rank=0", "--master_addr=127.0.0.1"]
    assert 1024 <= int(argv[7].removeprefix("--master_port=")) <= 65535
    assert argv[8:] == ["--module", "gpu_agent.train", "--spec", str(tmp_path / "launch.json")]
    assert train_env(launch) == {"DS_ACCELERATOR": "cpu"}
    gpu = LaunchSpec(
        job_id=1, attempt=1, kind="train.run", spec=_dict(TrainSpec(gpus_per_node=2)), gpus=[3, 5]
    )
    # The allocated GPUs themselves (the launcher sets CUDA_VISIBLE_DEVICES from them).
    assert _world(KINDS["train.run"].argv(gpu, tmp_path / "l.json")[4]) == {"localhost": [3, 5]}
    assert train_env(gpu) == {}


def test_each_node_of_a_group_gets_the_whole_world_and_its_own_rank(tmp_path):
    """Multi-node: the same world (hosts in node-rank order) on every node, this
    node's own GPUs for its entry, the console's master address and port."""
    rdzv = Rendezvous(
        master_addr="10.0.0.5", master_port=29511, node_rank=1, hosts=["a", "b"], procs=[2, 2]
    )
    launch = LaunchSpec(
        job_id=1,
        attempt=1,
        kind="train.run",
        spec=_dict(TrainSpec(gpus_per_node=2, nodes=2)),
        gpus=[4, 6],
        rendezvous=rdzv,
    )
    argv = KINDS["train.run"].argv(launch, tmp_path / "l.json")
    assert list(_world(argv[4]).items()) == [("a", [0, 1]), ("b", [4, 6])]
    assert argv[5:8] == ["--node_rank=1", "--master_addr=10.0.0.5", "--master_port=29511"]
    wrong = LaunchSpec(
        job_id=1,
        attempt=1,
        kind="train.run",
        spec=_dict(TrainSpec(gpus_per_node=0, cpu_procs_per_node=1, nodes=2)),
        rendezvous=Rendezvous(
            master_addr="h", master_port=29500, node_rank=0, hosts=["a", "b"], procs=[3, 1]
        ),
    )
    with pytest.raises(ValueError, match="should run 3 processes"):
        KINDS["train.run"].argv(wrong, tmp_path / "l.json")


def test_a_crashed_run_is_retried_but_not_a_bad_spec():
    retry = KINDS["train.run"].retry
    assert retry is not None
    assert retry(1) and retry(247) and retry(-9)
    assert not retry(2)


def _world(arg: str) -> dict:
    import base64
    import json

    assert arg.startswith("--world_info=")
    return json.loads(base64.urlsafe_b64decode(arg.removeprefix("--world_info=")))


def _dict(spec: TrainSpec) -> dict:
    from gpu_agent.spec import spec_to_dict

    data = spec_to_dict(spec)
    data["data"]["corpus_dir"] = "/c"
    data["data"]["seq_len"] = 64
    data["checkpoint"]["dir"] = "/k"
    return data
