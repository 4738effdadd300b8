"""Registry writes: register a checkpoint as a model version (a ``model.export`` job),
evaluate and quantize versions (``model.evaluate``, ``model.quantize`` jobs), change a
version's status, and the playground's synchronous generation.

A request never makes a version itself. Rules that can be checked before a job is
queued are checked here (the checkpoint is complete and has exported weights, no pickle
file, the method runs on this fleet), so the user gets the error at once. The jobs'
handlers (``console.registry.jobs``) write the folder atomically; the rows are created
by ``model_job_left_active`` in the transaction that marks the job succeeded: a version
exists if and only if its job succeeded. A failed or cancelled job's folder is removed.

Status: only ``model_version_set_status`` changes it, and for now it allows only
draft → archived and archived → draft. In review, approved and production belong to
the governance issue.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from console.audit.services import audit_record
from console.core.errors import Conflict, FieldErrors, Forbidden, InvalidInput
from console.core.roles import Cap, has_cap
from console.core.types import Actor
from console.data.artifacts import data_storage
from console.data.engine.storage import StorageError
from console.data.models import TokenizedCorpus
from console.jobs.models import Job, JobState
from console.jobs.services import job_create
from console.projects.models import Project
from console.registry.artifacts import manifest_problems, model_key, model_storage, unsafe_files
from console.registry.models import (
    Evaluation,
    Kind,
    ModelVersion,
    Precision,
    Status,
    WeightFormat,
)
from console.registry.specs import (
    CALIBRATED_METHODS,
    MIN_CALIBRATION_SEQUENCES,
    QUANT_METHODS,
    ModelEvaluateSpec,
    ModelExportSpec,
    ModelOnnxSpec,
    ModelQuantizeSpec,
)
from console.runs.models import Checkpoint, Run
from gpu_agent.train import checkpoints as ckpt

log = logging.getLogger(__name__)

MODEL_KINDS = frozenset(
    {ModelExportSpec.KIND, ModelEvaluateSpec.KIND, ModelQuantizeSpec.KIND, ModelOnnxSpec.KIND}
)
# Draft ↔ archived only; the rest is the governance issue's.
ALLOWED_TRANSITIONS = frozenset({(Status.DRAFT, Status.ARCHIVED), (Status.ARCHIVED, Status.DRAFT)})
TOKENIZER_SKIP = frozenset({"forge_tokenizer.json"})
PRECISION_OF = {
    "fp16": Precision.FP16,
    "bf16": Precision.BF16,
    "w8a16": Precision.INT8,
    "w4a16": Precision.INT4,
    "fp8": Precision.FP8,
}


LEGACY_REFUSAL = (
    "{version} is in Forge's own legacy quantized format (before compressed-tensors), "
    "which only old Forge releases load: quantize its full-precision parent again."
)


def refuse_unloadable(version: ModelVersion) -> None:
    """Versions Forge's own engine cannot open: the legacy format, and ONNX folders
    (they run in onnxruntime or TensorRT; evaluate their full-precision parent)."""
    if version.is_legacy:
        raise Conflict(LEGACY_REFUSAL.format(version=version))
    if version.kind == Kind.ONNX:
        raise Conflict(
            f"{version} is an ONNX export: it runs in onnxruntime or TensorRT (see its "
            "README.md); evaluate its full-precision parent in Forge."
        )


def model_export_onnx(*, actor: Actor, version: ModelVersion, max_new_tokens: int = 16) -> Job:
    """Queue a ``model.export_onnx`` job: the version as an ONNX graph with a KV cache,
    registered as a derived version only once onnxruntime's greedy tokens equal
    transformers' for the verification prompts."""
    _require(actor)
    if version.kind != Kind.EXPORT or version.parent_id is not None:
        raise FieldErrors(
            {"model_version": [f"{version} is derived: export its full-precision parent."]}
        )
    return job_create(
        actor=actor,
        project=version.project,
        kind=ModelOnnxSpec.KIND,
        params={"model_version_id": version.pk, "max_new_tokens": max_new_tokens},
        name=f"Export {version} to ONNX"[:200],
    )


def _require(actor: Actor, cap: Cap = Cap.TRAINING_WRITE) -> None:
    if not has_cap(actor, cap):
        raise Forbidden(f"This needs the '{cap.value}' permission.")


# ------------------------------------------------------------------ sources


def checkpoint_weights(*, run: Run, step: int) -> tuple[Checkpoint, Path]:
    """The run's checkpoint at ``step`` and its exported Hugging Face folder, or
    FieldErrors saying why it cannot be registered."""
    checkpoint = Checkpoint.objects.filter(run=run, step=step).first()
    if checkpoint is None:
        raise FieldErrors({"step": [f"Run {run.pk} has no complete checkpoint at step {step}."]})
    tag_dir = Path(checkpoint.dir) / ckpt.tag_for(step)
    marker = tag_dir / ckpt.COMPLETE
    if not marker.is_file():
        raise FieldErrors(
            {"step": [f"The checkpoint at step {step} is incomplete ({marker} is missing)."]}
        )
    try:
        info = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        raise FieldErrors(
            {"step": [f"The checkpoint at step {step} has an unreadable marker."]}
        ) from None
    folder = tag_dir / ckpt.HF_FOLDER
    if info.get("hf") != ckpt.HF_FOLDER or not folder.is_dir():
        raise FieldErrors(
            {
                "step": [
                    f"The checkpoint at step {step} has no exported weights (no {ckpt.HF_FOLDER}/ "
                    "folder): train with checkpoint.export_weights on."
                ]
            }
        )
    problems = unsafe_files(folder)
    if problems:
        raise FieldErrors({"step": [f"Refused: {'; '.join(problems[:5])}."]})
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise FieldErrors(
            {"step": [f"The checkpoint at step {step} has no config.json or *.safetensors."]}
        )
    return checkpoint, folder


def tokenizer_folder(corpus: TokenizedCorpus) -> Path:
    try:
        folder = data_storage().path(corpus.tokenizer.storage_key)
    except StorageError as exc:
        raise FieldErrors({"run": [str(exc)]}) from None
    if not (folder / "tokenizer.json").is_file():
        raise FieldErrors({"run": [f"The corpus's tokenizer files are missing ({folder})."]})
    problems = unsafe_files(folder)
    if problems:
        raise FieldErrors({"run": [f"Refused: {'; '.join(problems[:5])}."]})
    return folder


def corpus_folder(corpus: TokenizedCorpus) -> Path:
    try:
        return data_storage().path(corpus.storage_key)
    except StorageError as exc:
        raise FieldErrors({"corpus": [str(exc)]}) from None


def model_folder(version: ModelVersion) -> Path:
    return model_storage().path(version.folder)


# ------------------------------------------------------------------ commands


def model_register(*, actor: Actor, run: Run, step: int, name: str) -> Job:
    """Queue a ``model.export`` of the run's checkpoint at ``step`` as the next version
    of ``name``. ``run`` must be one the actor may see (callers look it up scoped)."""
    _require(actor)
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise FieldErrors({"name": ["Give the model a name (1 to 100 characters)."]})
    checkpoint_weights(run=run, step=step)
    tokenizer_folder(run.corpus)
    return job_create(
        actor=actor,
        project=run.project,
        kind=ModelExportSpec.KIND,
        params={"run_id": run.pk, "step": step, "name": name},
        name=f"Register {name} from run {run.pk} step {step}"[:200],
    )


def _eval_corpus(version: ModelVersion, corpus: TokenizedCorpus | None) -> TokenizedCorpus:
    corpus = corpus or (cast("Run", version.run).corpus if version.run_id else None)
    if corpus is None:
        raise FieldErrors({"corpus": ["Pick a tokenized corpus (this version has no run)."]})
    if corpus.project_id != version.project_id:
        raise FieldErrors({"corpus": ["The corpus belongs to another project."]})
    return corpus


def model_evaluate(
    *,
    actor: Actor,
    version: ModelVersion,
    kind: str = "perplexity",
    corpus: TokenizedCorpus | None = None,
    prompts: list[str] | None = None,
    **params: Any,
) -> Job:
    """Queue a ``model.evaluate`` job: perplexity on a corpus's validation split
    (default: the source run's corpus), or generation on ``prompts``."""
    _require(actor)
    refuse_unloadable(version)
    spec: dict[str, Any] = {"model_version_id": version.pk, "kind": kind, **params}
    if kind == "perplexity":
        spec["corpus_id"] = _eval_corpus(version, corpus).pk
    else:
        spec["prompts"] = [p for p in (prompts or []) if p.strip()]
    return job_create(
        actor=actor,
        project=version.project,
        kind=ModelEvaluateSpec.KIND,
        params=spec,
        name=f"Evaluate {version} ({kind})"[:200],
    )


def supported_methods() -> dict[str, str]:
    """{method: "" if it can be written, else why not}. Evaluated in the web process:
    the console's Celery workers (queue pipelines) that write the folders run on the
    same kind of machine (see README, Models). Whether the fleet's GPUs can run a
    method is ``fleet_refusal``'s."""
    from gpu_agent.models import supported_methods as engine_methods

    found = engine_methods("cpu")
    return {m: found.get(m, "not offered by the model engine") for m in QUANT_METHODS}


# GPU models that run FP8 matrix products natively (Ada 8.9, Hopper 9.0, Blackwell).
FP8_GPU_NAMES = (
    "H100",
    "H200",
    "H800",
    "H20",
    "GH200",
    "B100",
    "B200",
    "GB200",
    "L40S",
    "L4",
    "RTX 40",
    "RTX 6000 ADA",
    "RTX 5000 ADA",
    "RTX 4000 ADA",
)


def fp8_gpu(model: str) -> bool:
    name = model.upper()
    return any(tag in name for tag in FP8_GPU_NAMES)


def fleet_refusal(method: str) -> str:
    """Why this fleet's GPUs cannot run ``method`` ("" when they can). FP8 needs Hopper
    or Ada: refused when the fleet has GPUs and none of them is one. A fleet without
    GPUs runs every format decompressed on CPU (correct, not faster)."""
    if method != "fp8":
        return ""
    from console.fleet.models import Gpu

    models = sorted(
        set(Gpu.objects.filter(present=True, node__enabled=True).values_list("model", flat=True))
    )
    if not models or any(fp8_gpu(m) for m in models):
        return ""
    return (
        "FP8 needs Hopper or Ada GPUs (H100, H200, L40S, L4, ...); this fleet has "
        + ", ".join(models)
        + ". Pick w8a16 or w4a16."
    )


def _corpus_sequences(corpus: TokenizedCorpus, split: str = "train") -> int | None:
    splits = (corpus.index or {}).get("splits") or {}
    value = (splits.get(split) or {}).get("sequences")
    return int(value) if isinstance(value, int) else None


def _calibration_corpus(version: ModelVersion, corpus: TokenizedCorpus) -> TokenizedCorpus:
    """The calibration set must be the version's project's, tokenized with the
    version's own tokenizer, and large enough."""
    if corpus.project_id != version.project_id:
        raise FieldErrors({"calibration_corpus": ["Pick a dataset version of this project."]})
    tokenizer_id = (version.lineage or {}).get("tokenizer")
    if tokenizer_id is not None and corpus.tokenizer_id != tokenizer_id:
        raise FieldErrors(
            {
                "calibration_corpus": [
                    f"{corpus} was tokenized with tokenizer {corpus.tokenizer_id}; the model "
                    f"uses tokenizer {tokenizer_id}. Calibrate on data of the model's tokenizer."
                ]
            }
        )
    sequences = _corpus_sequences(corpus)
    if sequences is not None and sequences < MIN_CALIBRATION_SEQUENCES:
        raise FieldErrors(
            {
                "calibration_corpus": [
                    f"{corpus} has {sequences} training sequences; GPTQ needs at least "
                    f"{MIN_CALIBRATION_SEQUENCES}."
                ]
            }
        )
    return corpus


def model_quantize(
    *,
    actor: Actor,
    version: ModelVersion,
    method: str,
    group_size: int = 128,
    algorithm: str = "rtn",
    corpus: TokenizedCorpus | None = None,
    calibration_corpus: TokenizedCorpus | None = None,
    calibration_samples: int = 128,
    calibration_seq_len: int = 512,
) -> Job:
    """Queue a ``model.quantize`` job making a derived version of ``version``. What can
    be known before the job runs is refused here, with the reason: an already quantized
    or Forge-only version, a method this console or fleet cannot run, a calibration
    set of another project or tokenizer, or too small."""
    _require(actor)
    if method not in QUANT_METHODS:
        raise FieldErrors({"method": [f"Pick one of: {', '.join(QUANT_METHODS)}."]})
    if version.kind == Kind.QUANTIZED or version.parent_id is not None:
        raise FieldErrors(
            {"method": [f"{version} is already quantized: quantize its full-precision parent."]}
        )
    reason = supported_methods().get(method, "unknown method") or fleet_refusal(method)
    if reason:
        raise FieldErrors({"method": [f"{method} cannot run on this fleet: {reason}"]})
    spec: dict[str, Any] = {
        "model_version_id": version.pk,
        "method": method,
        "algorithm": algorithm,
        "group_size": group_size,
        "calibration_samples": calibration_samples,
        "calibration_seq_len": calibration_seq_len,
    }
    if algorithm == "gptq" and calibration_corpus is None:
        raise FieldErrors({"calibration_corpus": ["GPTQ needs a calibration dataset version."]})
    if calibration_corpus is not None and algorithm == "gptq":
        spec["calibration_corpus_id"] = _calibration_corpus(version, calibration_corpus).pk
    if version.run_id or corpus is not None:
        spec["corpus_id"] = _eval_corpus(version, corpus).pk
    label = f"{method} ({algorithm}{f', g{group_size}' if method == 'w4a16' else ''})"
    return job_create(
        actor=actor,
        project=version.project,
        kind=ModelQuantizeSpec.KIND,
        params=spec,
        name=f"Quantize {version} to {label}"[:200],
    )


@transaction.atomic
def model_version_set_status(*, actor: Actor, version: ModelVersion, status: str) -> ModelVersion:
    """The one path that changes a version's status. Allowed for now: draft → archived,
    archived → draft. Review, approval and production are the governance issue's."""
    _require(actor)
    locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if status not in Status.values:
        raise FieldErrors({"status": [f"Unknown status {status!r}."]})
    if (locked.status, status) not in ALLOWED_TRANSITIONS:
        raise Conflict(
            f"A model version cannot go from {locked.get_status_display()} to "
            f"{Status(status).label} here: only draft → archived and archived → draft are "
            "allowed; review, approval and production go through governance."
        )
    before = locked.status
    ModelVersion.objects.filter(pk=locked.pk, status=before).update(status=status)
    locked.status = status
    audit_record(
        action="model.status",
        actor=actor,
        obj=locked,
        project_id=locked.project_id,
        before={"status": before},
        after={"status": status},
    )
    return locked


# Governance's transitions (console.governance.services is the only caller).
GOVERNANCE_TRANSITIONS = frozenset(
    {
        (Status.DRAFT, Status.IN_REVIEW),
        (Status.IN_REVIEW, Status.APPROVED),
        (Status.IN_REVIEW, Status.DRAFT),
        (Status.APPROVED, Status.PRODUCTION),
        (Status.PRODUCTION, Status.ARCHIVED),
        (Status.APPROVED, Status.ARCHIVED),
    }
)


@transaction.atomic
def model_version_status_by_governance(
    *, version: ModelVersion, status: str, actor: Actor
) -> ModelVersion:
    """Review, approval, production and retirement of a version, for governance's services
    only (they check the review and the actor's rights): draft → in review, in review →
    approved or back to draft, approved → production, production or approved → archived."""
    locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
    before = locked.status
    if (before, status) not in GOVERNANCE_TRANSITIONS:
        raise Conflict(
            f"A model version cannot go from {locked.get_status_display()} to "
            f"{Status(status).label if status in Status.values else status!r}."
        )
    ModelVersion.objects.filter(pk=locked.pk, status=before).update(status=status)
    locked.status = status
    audit_record(
        action="model.status",
        actor=actor,
        obj=locked,
        project_id=locked.project_id,
        before={"status": before},
        after={"status": status, "by": "governance"},
    )
    return locked


def playground_generate(
    *,
    actor: Actor,
    version: ModelVersion,
    prompt: str,
    temperature: float = 0.7,
    top_p: float = 0.92,
    repetition_penalty: float = 1.2,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Generate from one prompt, synchronously in this process (small models only:
    FORGE_PLAYGROUND_MAX_BYTES); larger ones go through an evaluation job."""
    _require(actor, Cap.JOBS_SUBMIT)
    refuse_unloadable(version)
    limit = settings.FORGE_PLAYGROUND_MAX_BYTES
    if version.size_bytes > limit:
        raise InvalidInput(
            f"{version} is {version.size_bytes / 2**30:.1f} GiB, above the playground's limit "
            f"of {limit / 2**30:.1f} GiB (FORGE_PLAYGROUND_MAX_BYTES): run a generation "
            "evaluation job instead."
        )
    spec = ModelEvaluateSpec(
        model_version_id=version.pk,
        kind="generation",
        prompts=[prompt],
        temperature=temperature,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    errors = spec.check()
    if errors:
        raise FieldErrors(errors)
    problems = manifest_problems(model_folder(version), version.files)
    if problems:
        raise Conflict(f"The files do not match the manifest: {'; '.join(problems[:5])}")
    from gpu_agent.models import ModelFolderError, generate

    try:
        return generate(
            model_folder(version),
            [prompt],
            temperature=temperature,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            max_new_tokens=max_new_tokens,
            seed=seed,
        )
    except ModelFolderError as exc:
        raise InvalidInput(str(exc)) from None


# ---------------------------------------------- registration (a job_left_active effect)


def model_job_left_active(job_id: int) -> None:
    """A job_left_active effect (settings.LIFECYCLE_EFFECTS), inside the transaction that
    moves a job out of running: create a succeeded job's row; remove a failed or
    cancelled export/quantize job's folder."""
    job = Job.objects.filter(pk=job_id).select_related("requested_by").first()
    if job is None or job.kind not in MODEL_KINDS:
        return
    if job.state == JobState.SUCCEEDED:
        REGISTER[job.kind](job)
    elif job.state in (JobState.FAILED, JobState.CANCELLED) and job.kind != ModelEvaluateSpec.KIND:
        key = model_key(job.pk)
        transaction.on_commit(lambda: _discard(key))


def _discard(key: str) -> None:
    try:
        model_storage().delete(key)
    except (OSError, ValueError):
        log.exception("could not remove %s", key)


def _actor(job: Job) -> Any:
    return job.requested_by or f"job {job.pk}"


def _next_number(project_id: int, name: str) -> int:
    Project.objects.select_for_update().get(pk=project_id)  # one numbering at a time
    top = ModelVersion.objects.filter(project_id=project_id, name=name).aggregate(
        top=Max("number")
    )["top"]
    return (top or 0) + 1


def version_lineage(run: Run, step: int) -> dict[str, Any]:
    corpus = run.corpus
    version = corpus.version
    return {
        "run": run.pk,
        "run_name": run.name,
        "step": step,
        "corpus": corpus.pk,
        "dataset": version.dataset_id,
        "dataset_versions": [version.pk, *([version.parent_id] if version.parent_id else [])],
        "tokenizer": corpus.tokenizer_id,
        "preset": run.preset,
        "model": (run.spec or {}).get("model") or {},
        "deepspeed": run.deepspeed or {},
    }


def _register_export(job: Job) -> ModelVersion | None:
    if ModelVersion.objects.filter(job=job).exists():
        return None
    result = job.result or {}
    run = Run.objects.select_related("corpus__version").get(pk=job.spec["run_id"])
    step = job.spec["step"]
    name = job.spec["name"].strip()
    version = ModelVersion.objects.create(
        project_id=run.project_id,
        name=name,
        number=_next_number(run.project_id, name),
        kind=Kind.EXPORT,
        run=run,
        checkpoint=Checkpoint.objects.filter(run=run, step=step).first(),
        step=step,
        precision=result.get("precision") or Precision.FP32,
        folder=result["folder"],
        files=result["files"],
        size_bytes=sum(f["bytes"] for f in result["files"]),
        lineage=result.get("lineage") or version_lineage(run, step),
        job=job,
        created_by=job.requested_by,
    )
    audit_record(
        action="model.register",
        actor=_actor(job),
        obj=version,
        project_id=version.project_id,
        after={"run": run.pk, "step": step, "size_bytes": version.size_bytes, "job": job.pk},
    )
    return version


def _derived_version(
    job: Job, parent: ModelVersion, *, lineage: dict[str, Any], **fields: Any
) -> ModelVersion:
    """A version made from ``parent`` by ``job`` (quantized, ONNX): the parent's name,
    run and checkpoint, the job's folder and files, the parent's lineage plus its own."""
    result = job.result or {}
    return ModelVersion.objects.create(
        project_id=parent.project_id,
        name=parent.name,
        number=_next_number(parent.project_id, parent.name),
        run_id=parent.run_id,
        checkpoint_id=parent.checkpoint_id,
        step=parent.step,
        parent=parent,
        folder=result["folder"],
        files=result["files"],
        size_bytes=sum(f["bytes"] for f in result["files"]),
        lineage={**parent.lineage, "parent": parent.pk, **lineage},
        job=job,
        created_by=job.requested_by,
        **fields,
    )


def _register_quantized(job: Job) -> ModelVersion | None:
    if ModelVersion.objects.filter(job=job).exists():
        return None
    result = job.result or {}
    parent = ModelVersion.objects.get(pk=job.spec["model_version_id"])
    if result.get("parent_measured") and not parent.measured:
        ModelVersion.objects.filter(pk=parent.pk).update(measured=result["parent_measured"])
    method = job.spec["method"]
    algorithm = job.spec.get("algorithm", "rtn")
    quant = dict(result.get("quant") or {})
    calibration = quant.get("calibration")
    if calibration and job.spec.get("calibration_corpus_id"):
        corpus = TokenizedCorpus.objects.select_related("version").get(
            pk=job.spec["calibration_corpus_id"]
        )
        calibration = {
            **calibration,
            "corpus": corpus.pk,
            "dataset_version": corpus.version_id,
            "dataset": corpus.version.dataset_id,
            "tokenizer": corpus.tokenizer_id,
        }
        quant["calibration"] = calibration
    version = _derived_version(
        job,
        parent,
        kind=Kind.QUANTIZED,
        precision=PRECISION_OF.get(method, Precision.INT4),
        quant_method=f"{method}-{algorithm}" if method in CALIBRATED_METHODS else method,
        group_size=job.spec["group_size"] if method == "w4a16" else None,
        weight_format=WeightFormat.COMPRESSED_TENSORS if quant.get("format") else WeightFormat.HF,
        lineage={"quantization": quant},
        measured=result.get("measured") or {},
    )
    audit_record(
        action="model.quantize",
        actor=_actor(job),
        obj=version,
        project_id=version.project_id,
        after={
            "parent": parent.pk,
            "method": method,
            "algorithm": algorithm,
            "calibration": calibration,
            "size_bytes": version.size_bytes,
        },
    )
    return version


def _register_evaluation(job: Job) -> Evaluation | None:
    if Evaluation.objects.filter(job=job).exists():
        return None
    spec = dict(job.spec)
    version = ModelVersion.objects.get(pk=spec.pop("model_version_id"))
    kind = spec.pop("kind")
    if kind == "perplexity":
        params = {k: spec[k] for k in ("corpus_id", "max_sequences", "batch_size") if k in spec}
        params["split"] = "val"
    else:
        keep = ("prompts", "temperature", "top_p", "repetition_penalty", "max_new_tokens", "seed")
        params = {k: spec[k] for k in keep if k in spec}
    return Evaluation.objects.create(
        model_version=version,
        kind=kind,
        params=params,
        result=job.result.get("evaluation") if job.result else {},
        job=job,
        created_by=job.requested_by,
    )


def _register_onnx(job: Job) -> ModelVersion | None:
    if ModelVersion.objects.filter(job=job).exists():
        return None
    result = job.result or {}
    parent = ModelVersion.objects.get(pk=job.spec["model_version_id"])
    onnx = result.get("onnx") or {}
    version = _derived_version(
        job,
        parent,
        kind=Kind.ONNX,
        precision=Precision.FP32,
        quant_method="onnx",
        weight_format=WeightFormat.ONNX,
        lineage={"onnx": onnx},
    )
    audit_record(
        action="model.export_onnx",
        actor=_actor(job),
        obj=version,
        project_id=version.project_id,
        after={"parent": parent.pk, "opset": onnx.get("opset"), "size_bytes": version.size_bytes},
    )
    return version


REGISTER = {
    ModelOnnxSpec.KIND: _register_onnx,
    ModelExportSpec.KIND: _register_export,
    ModelQuantizeSpec.KIND: _register_quantized,
    ModelEvaluateSpec.KIND: _register_evaluation,
}
