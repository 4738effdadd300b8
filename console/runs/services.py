"""Run writes: launch a training run (every check before anything launches) and
register the checkpoints its job announced.

``run_create`` turns the form's few choices into a TrainSpec (the preset's model, or a
custom shape started from a base preset's values (``model_for``), with the corpus
tokenizer's vocabulary, the corpus's shard folder and sequence length, a
checkpoint folder under FORGE_RUNS_DIR/<run id>) and the DeepSpeed configuration
(``deepspeed_config(spec)`` or the user's JSON, checked against the spec), refuses
what cannot run with errors per field, and submits one ``train.run`` job.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.audit.services import audit_record, refusals_audited
from console.core.effects import effects
from console.core.errors import Conflict, FieldErrors, Forbidden, NotFound
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.data.artifacts import data_storage
from console.data.models import TokenizedCorpus
from console.fleet.models import Node
from console.jobs.models import Job
from console.jobs.services import SpecInvalid, check_timing, job_approve, job_create, job_reject
from console.policies.estimate import RunEstimate
from console.policies.models import Decision, RunApproval
from console.policies.selectors import fleet_run_estimate, run_policy_check
from console.projects.models import Project
from console.runs.models import Checkpoint, Run
from console.runs.selectors import default_gpus_per_node
from gpu_agent.roots import path_fields
from gpu_agent.spec import SpecError, spec_from_dict, spec_to_dict
from gpu_agent.train.dsconfig import deepspeed_config
from gpu_agent.train.memory import GIB, estimate, fits
from gpu_agent.train.presets import CUSTOM, CUSTOM_FIELDS, PRESETS, param_count, preset
from gpu_agent.train.spec import ModelSpec, OptimizerSpec, TrainSpec


def runs_dir() -> Path:
    return Path(settings.FORGE_RUNS_DIR)


def corpus_dir(corpus: TokenizedCorpus) -> Path:
    return data_storage().path(corpus.storage_key)


# ------------------------------------------------------------------ DeepSpeed JSON


def deepspeed_parse(raw: str | dict[str, Any] | None, spec: TrainSpec) -> dict[str, Any]:
    """The DeepSpeed config to launch with: ``deepspeed_config(spec)`` when ``raw`` is
    empty, else the user's JSON, which must agree with the spec on what both say."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return deepspeed_config(spec)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise FieldErrors({"deepspeed_json": [f"not valid JSON: {exc}"]}) from None
    if not isinstance(raw, dict):
        raise FieldErrors({"deepspeed_json": ["must be a JSON object"]})
    problems: list[str] = []
    world = spec.world_size
    expect = {
        "train_micro_batch_size_per_gpu": spec.micro_batch,
        "gradient_accumulation_steps": spec.grad_accum,
        "train_batch_size": spec.micro_batch * spec.grad_accum * world,
    }
    for key, want in expect.items():
        if key in raw and raw[key] != want:
            problems.append(f"{key} is {raw[key]!r}; the form says {want}")
    zero = raw.get("zero_optimization", {})
    if not isinstance(zero, dict):
        problems.append("zero_optimization must be an object")
    elif zero.get("stage", spec.zero.stage) != spec.zero.stage:
        problems.append(
            f"zero_optimization.stage is {zero.get('stage')!r}; the form says {spec.zero.stage}"
        )
    for key in ("optimizer", "scheduler", "bf16", "fp16"):
        if key in raw and not isinstance(raw[key], dict):
            problems.append(f"{key} must be an object")
    for name, _value in path_fields(raw):
        problems.append(
            f"{name} names a file or folder: Forge builds every path of a run itself from "
            "the run and its corpus (an agent refuses paths outside its roots)"
        )
    if isinstance(raw.get("optimizer"), dict) and not isinstance(raw["optimizer"].get("type"), str):
        problems.append("optimizer.type must be a string")
    if problems:
        raise FieldErrors({"deepspeed_json": problems})
    return raw


# ------------------------------------------------------------------ corpus size


def corpus_sequences(corpus: TokenizedCorpus) -> tuple[int, int]:
    """(train, validation) sequences of a corpus: its index.json's counts, or, for a row
    without them, its tokens over its sequence length (the last row is padded)."""
    splits = (corpus.index or {}).get("splits") or {}

    def count(split: str, tokens: int) -> int:
        n = (splits.get(split) or {}).get("sequences")
        if isinstance(n, int) and not isinstance(n, bool):
            return n
        return -(-tokens // corpus.seq_len) if corpus.seq_len else 0

    return count("train", corpus.train_tokens), count("val", corpus.val_tokens)


def corpus_problems(corpus: TokenizedCorpus, spec: TrainSpec) -> list[str]:
    """Why the corpus cannot feed this run: fewer training sequences than one optimizer
    step reads (micro-batch x accumulation x processes), or too few validation sequences
    for one evaluation micro-batch per process (the training loop skips evaluation
    then). Empty when it can."""
    train, val = corpus_sequences(corpus)
    world = spec.world_size
    procs = f"{world} process{'es' if world != 1 else ''}"
    step = spec.micro_batch * spec.grad_accum * world
    problems = []
    if train < step:
        problems.append(
            f"corpus {corpus.pk} has {train:,} training sequence{'s' if train != 1 else ''} at "
            f"length {corpus.seq_len}; one optimizer step of this run needs {step:,} "
            f"(micro-batch {spec.micro_batch} × accumulation {spec.grad_accum} × {procs}). "  # noqa: RUF001
            "Tokenize at a shorter length or lower the batch."
        )
    evaluation = spec.micro_batch * world
    if val < evaluation:
        problems.append(
            f"corpus {corpus.pk} has {val:,} validation sequence{'s' if val != 1 else ''} at "
            f"length {corpus.seq_len}; evaluating this run needs {evaluation:,} "
            f"(micro-batch {spec.micro_batch} × {procs}). Tokenize with a larger validation "  # noqa: RUF001
            "share or at a shorter length, or lower the micro-batch."
        )
    return problems


# ------------------------------------------------------------------ memory


def memory_problems(spec: TrainSpec) -> list[str]:
    """Why the fleet cannot hold the run; empty when enough nodes can (a CPU run needs
    only enough enabled nodes for a multi-node group: any node's CPU takes it)."""
    if spec.gpus_per_node == 0:
        enabled = Node.objects.filter(enabled=True).count()
        if spec.nodes > 1 and enabled < spec.nodes:
            return [f"no free capacity: {spec.nodes} nodes are needed; {enabled} are enabled"]
        return []
    est = estimate(
        spec.model,
        stage=spec.zero.stage,
        offload_optimizer=spec.zero.offload_optimizer,
        offload_params=spec.zero.offload_params,
        gpus_per_node=spec.gpus_per_node,
        nodes=spec.nodes,
        seq_len=spec.data.seq_len,
        micro_batch=spec.micro_batch,
        checkpointing=spec.activation_checkpointing,
    )
    candidates = []
    for node in Node.objects.filter(enabled=True).prefetch_related("gpus"):
        gpus = [g for g in node.gpus.all() if g.present]
        if len(gpus) >= spec.gpus_per_node:
            smallest = sorted(g.memory_mib for g in gpus)[-spec.gpus_per_node]
            candidates.append((node, smallest))
    if len(candidates) < spec.nodes:
        return [
            f"no free capacity: {spec.nodes} node(s) with {spec.gpus_per_node} GPU(s) each are "
            f"needed; {len(candidates)} enabled node(s) have that many"
        ]
    reasons: list[str] = []
    good = 0
    for node, gpu_mib in candidates:
        host = node.memory_mib * 1024**2 if node.memory_mib else None
        why = fits(est, gpu_bytes=gpu_mib * 1024**2, host_bytes=host)
        if why:
            reasons.append(f"{node.name}: " + "; ".join(why))
        else:
            good += 1
    if good >= spec.nodes:
        return []
    total = est.gpu_total / GIB
    return [f"cannot fit (about {total:.1f} GiB per GPU): " + " | ".join(reasons)]


# ------------------------------------------------------------------ launch

MAX_RESTARTS = 100

# The peak learning rate of a run that names none, by preset (a custom model takes its
# base preset's): the usual AdamW values for models of that size (nanoGPT's small
# models; GPT-3's 125M and 1.3B), and the reference recipe's 3e-5 (OptimizerSpec's
# default) for deepseek-7b. The reference's 3e-5 barely moves a tiny model in a
# thousand steps.
PRESET_LR: dict[str, float] = {"tiny": 1e-3, "125m": 6e-4, "1b": 2e-4, "deepseek-7b": 3e-5}
# Spec fields the form, the API and the CLI name otherwise.
SPEC_FIELD_NAMES = {
    "optimizer.lr": "lr",
    "scheduler.warmup_steps": "warmup_steps",
    "scheduler.total_steps": "schedule_steps",
}


def default_lr(preset_name: str, base_preset: str | None = None) -> float:
    name = (base_preset or "tiny") if preset_name == CUSTOM else preset_name
    return PRESET_LR.get(name, OptimizerSpec().lr)


def default_warmup(steps: int) -> int:
    """A tenth of the steps, at most 1,000."""
    return min(1_000, steps // 10)


def model_for(
    *,
    corpus: TokenizedCorpus,
    preset_name: str,
    model: Any = None,
    base_preset: str | None = None,
) -> dict[str, Any]:
    """The model dict a run trains, with the corpus tokenizer's vocabulary: a named
    preset's (max_positions raised to the corpus's sequence length), or, for
    ``preset_name == "custom"``, the base preset's values (default "tiny") changed by
    ``model`` (CUSTOM_FIELDS only; None leaves a value as the base has it). Raises
    FieldErrors keyed "model.<field>" as ModelSpec.check() words them."""
    vocab = corpus.tokenizer.vocab_size
    if preset_name != CUSTOM:
        if preset_name not in PRESETS:
            known = ", ".join([*PRESETS, CUSTOM])
            raise FieldErrors({"preset": [f"unknown preset {preset_name!r}; known: {known}"]})
        if model:
            raise FieldErrors(
                {"model": [f"model fields need preset {CUSTOM!r}; {preset_name!r} is fixed"]}
            )
        if base_preset:
            raise FieldErrors({"base_preset": [f"goes with preset {CUSTOM!r} only"]})
        named = preset(preset_name, vocab_size=vocab)
        return {**spec_to_dict(named), "max_positions": max(named.max_positions, corpus.seq_len)}
    base_name = base_preset or "tiny"
    if base_name not in PRESETS:
        known = ", ".join(PRESETS)
        raise FieldErrors({"base_preset": [f"unknown preset {base_name!r}; known: {known}"]})
    if model is None:
        model = {}
    if not isinstance(model, dict):
        raise FieldErrors({"model": ["must be an object of model fields"]})
    errors: dict[str, list[str]] = {}
    for key in model:
        if key == "vocab_size":
            errors["model.vocab_size"] = [f"follows the corpus's tokenizer ({vocab}); leave it out"]
        elif key == "preset":
            if model[key] != CUSTOM:
                errors["model.preset"] = [f"must be {CUSTOM!r} (or left out)"]
        elif key not in CUSTOM_FIELDS:
            errors[f"model.{key}"] = [
                f"unknown field; a custom model sets {', '.join(CUSTOM_FIELDS)}"
            ]
    if errors:
        raise FieldErrors(errors)
    base = preset(base_name, vocab_size=vocab)
    chosen = {k: v for k, v in model.items() if k in CUSTOM_FIELDS and v is not None}
    data = {
        **spec_to_dict(base),
        "max_positions": max(base.max_positions, corpus.seq_len),
        **chosen,
        "preset": CUSTOM,
    }
    try:
        checked = spec_from_dict(ModelSpec, data)
    except SpecError as exc:
        raise FieldErrors({f"model.{k}": v for k, v in exc.errors.items()}) from None
    if checked.max_positions < corpus.seq_len:
        raise FieldErrors(
            {
                "model.max_positions": [
                    f"must be at least the corpus's sequence length ({corpus.seq_len})"
                ]
            }
        )
    return spec_to_dict(checked)


def build_spec(
    *,
    corpus: TokenizedCorpus,
    preset_name: str,
    steps: int,
    micro_batch: int,
    grad_accum: int,
    zero_stage: int,
    offload_optimizer: bool = False,
    offload_params: bool = False,
    gpus_per_node: int = 1,
    nodes: int = 1,
    checkpoint_dir: str = "",
    checkpoint_every: int = 500,
    eval_every: int = 250,
    lr: float | None = None,
    warmup_steps: int | None = None,
    schedule_steps: int | None = None,
    bf16: bool | None = None,
    activation_checkpointing: bool = True,
    model: dict[str, Any] | None = None,
    base_preset: str | None = None,
) -> TrainSpec:
    """The TrainSpec of a run, or FieldErrors naming what is wrong (by the names of the
    form's and the API's fields: lr, warmup_steps, schedule_steps).

    The learning rate warms up linearly from 0 to ``lr`` (default: the preset's,
    PRESET_LR) over ``warmup_steps`` (default: a tenth of the steps, at most 1,000), then
    decays linearly to 0 at ``schedule_steps`` (default: ``steps``; DeepSpeed's
    WarmupDecayLR)."""
    cpu = gpus_per_node == 0
    data: dict[str, Any] = {
        "model": model_for(
            corpus=corpus, preset_name=preset_name, model=model, base_preset=base_preset
        ),
        "zero": {
            "stage": zero_stage,
            "offload_optimizer": offload_optimizer,
            "offload_params": offload_params,
        },
        "data": {"corpus_dir": str(corpus_dir(corpus)), "seq_len": corpus.seq_len},
        "checkpoint": {
            "dir": checkpoint_dir or "pending",
            "every": checkpoint_every,
            "eval_every": eval_every,
        },
        "optimizer": {"lr": default_lr(preset_name, base_preset) if lr is None else lr},
        "scheduler": {
            "warmup_steps": default_warmup(steps) if warmup_steps is None else warmup_steps,
            "total_steps": steps if schedule_steps is None else schedule_steps,
        },
        "steps": steps,
        "micro_batch": micro_batch,
        "grad_accum": grad_accum,
        "bf16": (not cpu) if bf16 is None else bf16,
        "activation_checkpointing": activation_checkpointing,
        "gpus_per_node": gpus_per_node,
        "nodes": nodes,
    }
    try:
        spec = spec_from_dict(TrainSpec, data)
    except SpecError as exc:
        raise FieldErrors({SPEC_FIELD_NAMES.get(k, k): v for k, v in exc.errors.items()}) from None
    if spec.scheduler.total_steps < spec.steps:
        raise FieldErrors(
            {
                "schedule_steps": [
                    f"must be at least the run's steps ({spec.steps}): the learning rate is 0 "
                    f"after step {spec.scheduler.total_steps}"
                ]
            }
        )
    if cpu and spec.bf16:
        raise FieldErrors({"bf16": ["CPU runs train in fp32: turn bf16 off"]})
    return spec


@refusals_audited("run.create_refused")
def run_create(
    *,
    actor: Actor,
    project: Project,
    corpus: TokenizedCorpus,
    preset: str,
    steps: int,
    micro_batch: int = 4,
    grad_accum: int = 8,
    zero_stage: int = 3,
    offload_optimizer: bool = False,
    offload_params: bool = False,
    gpus_per_node: int | None = None,
    nodes: int = 1,
    deepspeed_json: str | dict[str, Any] | None = None,
    name: str = "",
    checkpoint_every: int = 500,
    eval_every: int = 250,
    lr: float | None = None,
    warmup_steps: int | None = None,
    schedule_steps: int | None = None,
    bf16: bool | None = None,
    activation_checkpointing: bool = True,
    max_restarts: int = 2,
    model: dict[str, Any] | None = None,
    base_preset: str | None = None,
    carbon_aware: bool = False,
    interruptible: bool = False,
    not_before: datetime | None = None,
    deadline: datetime | None = None,
    expected_hours: float | None = None,
) -> Run:
    """Check everything, then store the run and submit its ``train.run`` job.

    A crashed or lost attempt restarts from the latest complete checkpoint up to
    ``max_restarts`` times; then the run fails with the last reason.

    ``preset="custom"`` trains ``model`` (see ``model_for``); the run stores preset
    "custom", the exact model dict in its spec and its exact parameter count.

    ``carbon_aware``: the scheduler starts the run in the lowest-carbon time before
    ``deadline`` (``interruptible``: over several windows, paused and resumed at their
    edges); ``expected_hours`` defaults to an estimate (console.carbon).

    ``gpus_per_node`` None follows the fleet (``selectors.default_gpus_per_node``: 0,
    CPU processes, when no online node has a GPU); ``lr``, ``warmup_steps`` and
    ``schedule_steps`` None take the defaults ``build_spec`` names."""
    if not has_cap(actor, Cap.TRAINING_WRITE):
        raise Forbidden("Launching a run needs the 'training.write' permission.")
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
        raise FieldErrors({"max_restarts": ["must be a whole number"]})
    if not 0 <= max_restarts <= MAX_RESTARTS:
        raise FieldErrors({"max_restarts": [f"must be between 0 and {MAX_RESTARTS}"]})
    if corpus.project_id != project.pk:
        raise FieldErrors({"corpus": ["the corpus belongs to another project"]})
    if gpus_per_node is None:
        gpus_per_node = default_gpus_per_node()
    spec = build_spec(
        corpus=corpus,
        preset_name=preset,
        steps=steps,
        micro_batch=micro_batch,
        grad_accum=grad_accum,
        zero_stage=zero_stage,
        offload_optimizer=offload_optimizer,
        offload_params=offload_params,
        gpus_per_node=gpus_per_node,
        nodes=nodes,
        checkpoint_every=checkpoint_every,
        eval_every=eval_every,
        lr=lr,
        warmup_steps=warmup_steps,
        schedule_steps=schedule_steps,
        bf16=bf16,
        activation_checkpointing=activation_checkpointing,
        model=model,
        base_preset=base_preset,
    )
    problems = corpus_problems(corpus, spec)
    if problems:
        raise FieldErrors({"corpus": problems})
    ds = deepspeed_parse(deepspeed_json, spec)
    problems = memory_problems(spec)
    if problems:
        raise FieldErrors({"gpus_per_node": problems})
    expected_seconds = _expected_seconds(expected_hours)
    try:
        check_timing(
            not_before=not_before,
            deadline=deadline,
            expected_seconds=expected_seconds or _estimated_seconds(spec),
            interruptible=interruptible and carbon_aware,
        )
    except FieldErrors as exc:  # the run's form and API say expected_hours
        raise FieldErrors(
            {"expected_hours" if k == "expected_seconds" else k: v for k, v in exc.errors.items()},
            exc.message,
        ) from None
    # The project's launch policy (console.policies): a held run's job waits for a reviewer.
    held, held_estimate = run_policy_check(project=project, preset=preset, spec=spec)
    if not name and preset == CUSTOM:
        m = spec.model
        name = f"custom {m.num_layers}x{m.hidden_size} on corpus {corpus.pk}"
    name = (name or f"{preset} on corpus {corpus.pk}")[:200]
    with transaction.atomic():
        run = Run.objects.create(
            project=project,
            name=name,
            created_by=cast("User", actor),  # capabilities checked: not anonymous
            corpus=corpus,
            preset=preset,
            params=param_count(spec.model),
            # what the run trains; the job's exact spec (the same model and schedule, which
            # its default alert rules follow) replaces it below
            spec=spec_to_dict(spec),
        )
        spec.checkpoint.dir = str(runs_dir() / str(run.pk))
        spec.deepspeed = ds
        params = spec_to_dict(spec)
        try:
            job = job_create(
                actor=actor,
                project=project,
                kind=TrainSpec.KIND,
                params=params,
                name=name,
                not_before=not_before,
                deadline=deadline,
                carbon_aware=carbon_aware,
                interruptible=interruptible,
                expected_seconds=expected_seconds,
            )
        except SpecInvalid as exc:
            raise FieldErrors(exc.errors) from None
        Job.objects.filter(pk=job.pk).update(max_attempts=max_restarts + 1)
        job.max_attempts = max_restarts + 1
        run.job = job
        run.spec = job.spec
        run.deepspeed = job.spec["deepspeed"]
        run.save(update_fields=["job", "spec", "deepspeed"])
        for effect in effects("run_created"):  # settings.LIFECYCLE_EFFECTS: its alert rules
            effect(run=run)
        if held:  # before commit, so the schedule message finds requires_approval set
            run_approval_hold(run=run, job=job, reasons=held, estimate=held_estimate)
        audit_record(action="run.create", actor=actor, obj=run, after={"job": job.pk})
    return run


def _expected_seconds(hours: float | None) -> int | None:
    if hours is None:
        return None
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 1 / 60 <= hours <= 2160:
        raise FieldErrors({"expected_hours": ["must be between 1 minute (0.017) and 2160 hours"]})
    return int(hours * 3600)


def _estimated_seconds(spec: TrainSpec) -> int | None:
    """The fleet estimate of a run's duration (None for a CPU run: no estimate)."""
    hours = fleet_run_estimate(spec).hours
    return int(max(60, hours * 3600)) if hours else None


# ------------------------------------------------------------------ checkpoints


def checkpoint_register(*, run: Run, checkpoint: dict[str, Any] | None) -> Checkpoint | None:
    """Record a complete checkpoint the job announced ({"step", "tag", "dir"}); once."""
    if not isinstance(checkpoint, dict):
        return None
    step = checkpoint.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return None
    existing = Checkpoint.objects.filter(run=run, step=step).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Checkpoint.objects.create(
                run=run,
                step=step,
                tag=str(checkpoint.get("tag", ""))[:200],
                dir=str(checkpoint.get("dir", ""))[:1000],
            )
    except IntegrityError:  # registered concurrently
        return Checkpoint.objects.filter(run=run, step=step).first()


def run_checkpoint_announced(job_id: int, checkpoint: dict[str, Any]) -> None:
    """The ``checkpoint`` effect: every checkpoint a run's job announces, registered in the ingest
    transaction that receives it (a pausing attempt's last one included)."""
    run = Run.objects.filter(job_id=job_id).first()
    if run is not None:
        checkpoint_register(run=run, checkpoint=checkpoint)


# ------------------------------------------------------------------ launch approval
#
# One decision, one transaction: approving or rejecting a held run is
# console.jobs.services' job_approve / job_reject (the four-eyes rule, the job's move
# under its row lock), whichever path asks: the jobs API and page, the run page and API
# (run_approve / run_reject below), the admin action. The train.run kind names
# ``run_approval_decide`` as its approval record, so job_approve / job_reject write the
# run's RunApproval (console.policies.models) inside the same transaction as the job's
# move: the two never disagree, and of two decisions at once exactly one is recorded (S2).


def run_approval_hold(*, run: Run, job: Job, reasons: list[str], estimate: RunEstimate) -> None:
    """Mark the run's job as needing approval (call inside run_create's transaction,
    before the schedule message goes out on commit) and record why."""
    message = ("awaiting approval by a reviewer: " + "; ".join(reasons))[:300]
    Job.objects.filter(pk=job.pk).update(requires_approval=True, progress_message=message)
    job.requires_approval, job.progress_message = True, message
    RunApproval.objects.create(run=run, reasons=reasons, estimate=estimate.as_dict())
    audit_record(action="run.approval_required", actor=None, obj=run, after={"reasons": reasons})


def _run_job(run_id: int) -> tuple[Run, int]:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound("No such run.")
    if run.job_id is None:
        raise Conflict("This run has no job.")
    return run, run.job_id


def run_approval_decide(*, job: Job, actor: Actor, approved: bool, comment: str = "") -> None:
    """Record a reviewer's decision on the run's pending approval: train.run's approval
    record, called by job_approve / job_reject inside the transaction that moves the
    job (never on its own: the job's move is the decision)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_approval_decide runs inside job_approve / job_reject")
    RunApproval.objects.filter(run__job_id=job.pk, decision=Decision.PENDING).update(
        decision=Decision.APPROVED if approved else Decision.REJECTED,
        decided_by=actor,
        decided_at=timezone.now(),
        comment=comment[:2000],
    )


def run_approve(*, actor: Actor, run_id: int, comment: str = "") -> Run:
    """The run page's, the runs API's and the admin's approval: the job's decision."""
    run, job_id = _run_job(run_id)
    job_approve(actor=actor, job_id=job_id, comment=comment)
    return run


def run_reject(*, actor: Actor, run_id: int, comment: str = "") -> Run:
    """The run page's, the runs API's and the admin's rejection: the job's decision."""
    run, job_id = _run_job(run_id)
    job_reject(actor=actor, job_id=job_id, reason=comment)
    return run
