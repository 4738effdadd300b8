"""The registry's job kinds and their handlers, run by a Celery worker (queue
``pipelines``).

Each handler reloads its rows, checks them against the job's project (the generic jobs
API accepts these kinds too), verifies a source version's files against its manifest
before using them (a tampered folder fails the job with the mismatch), and writes a new
folder inside ``atomic_dir(job-<job>)``: it appears whole or not at all. The handler
returns a small result; the rows are made by ``services.model_job_left_active`` in the
transaction that marks the job succeeded. A job run again after its worker died finds
its first attempt's complete folder and registers that.

The model engine (``gpu_agent.models``: loading, perplexity, generation, quantization,
measurement) is imported inside the handlers: the console starts without torch loaded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.urls import reverse

from console.core.errors import FieldErrors
from console.core.roles import Cap
from console.data.models import TokenizedCorpus
from console.jobs import kinds
from console.jobs.execution import JobFailed, JobInterrupted, in_thread
from console.jobs.kinds import JobContext
from console.jobs.models import TERMINAL_STATES, Job
from console.registry import services
from console.registry.artifacts import (
    LINEAGE_FILE,
    is_pickle,
    manifest_of,
    manifest_problems,
    model_key,
    model_storage,
    unsafe_files,
)
from console.registry.models import ModelVersion
from console.registry.specs import (
    ModelEvaluateSpec,
    ModelExportSpec,
    ModelOnnxSpec,
    ModelQuantizeSpec,
)
from console.runs.models import Run
from workers.queues import Queue

WEIGHT_FILES = ("*.safetensors", "*.safetensors.index.json")


def _job(ctx: JobContext) -> Job:
    return Job.objects.get(pk=ctx.job_id)


def _version(ctx: JobContext, version_id: int) -> ModelVersion:
    version = ModelVersion.objects.filter(pk=version_id, project_id=_job(ctx).project_id).first()
    if version is None:
        raise JobFailed(f"model version {version_id} does not exist in this job's project")
    return version


def _verified_folder(ctx: JobContext, version: ModelVersion) -> Path:
    folder = services.model_folder(version)
    ctx.log(f"verifying {len(version.files)} files of {version} against their sha256")
    problems = manifest_problems(folder, version.files)
    if problems:
        raise JobFailed(f"{version}: the files do not match the manifest: {'; '.join(problems)}")
    return folder


def _corpus(ctx: JobContext, corpus_id: int | None) -> Path | None:
    if corpus_id is None:
        return None
    corpus = TokenizedCorpus.objects.filter(pk=corpus_id, project_id=_job(ctx).project_id).first()
    if corpus is None:
        raise JobFailed(f"tokenized corpus {corpus_id} does not exist in this job's project")
    try:
        return services.corpus_folder(corpus)
    except FieldErrors as exc:
        raise JobFailed(exc.message) from None


def _finish(ctx: JobContext, key: str) -> None:
    """The folder is in place: one last check that the job still runs (a job cancelled
    meanwhile must not leave its folder behind)."""
    try:
        ctx.progress(99, "registering the model version")
    except JobInterrupted:
        state = Job.objects.filter(pk=ctx.job_id).values_list("state", flat=True).first()
        if state in TERMINAL_STATES or state is None:
            model_storage().delete(key)
        raise


def _copy(src: Path, dst: Path) -> None:
    if src.is_symlink() or is_pickle(src) or not src.is_file():
        raise JobFailed(f"{src.name}: refused (a symbolic link, pickle file or not a file)")
    shutil.copyfile(src, dst, follow_symlinks=False)


# ------------------------------------------------------------------ model.export


def run_export(ctx: JobContext, spec: ModelExportSpec) -> dict:
    run = (
        Run.objects.select_related("corpus__tokenizer", "corpus__version")
        .filter(pk=spec.run_id, project_id=_job(ctx).project_id)
        .first()
    )
    if run is None:
        raise JobFailed(f"run {spec.run_id} does not exist in this job's project")
    storage = model_storage()
    key = model_key(ctx.job_id)
    if not storage.exists(key):
        try:
            _, weights = services.checkpoint_weights(run=run, step=spec.step)
            tokenizer = services.tokenizer_folder(run.corpus)
        except FieldErrors as exc:
            raise JobFailed(exc.message) from None
        lineage = services.version_lineage(run, spec.step)
        ctx.log(f"exporting run {run.pk} step {spec.step} from {weights}")
        with storage.atomic_dir(key) as tmp:
            for path in sorted(weights.iterdir()):
                if path.is_dir() and not path.is_symlink():
                    raise JobFailed(f"{path.name}/: a sub-folder in the weights (not expected)")
                _copy(path, tmp / path.name)
                ctx.progress(10 + 70 * path.stat().st_size / max(1, _size(weights)), path.name)
            for path in sorted(tokenizer.iterdir()):
                if path.name in services.TOKENIZER_SKIP or (tmp / path.name).exists():
                    continue
                _copy(path, tmp / path.name)
            (tmp / LINEAGE_FILE).write_text(json.dumps(lineage, indent=1, sort_keys=True) + "\n")
            problems = unsafe_files(tmp)
            if problems:
                raise JobFailed("; ".join(problems))
            ctx.progress(85, "computing sha256 of every file")
    else:
        ctx.log("an earlier attempt wrote the whole folder; registering it")
        lineage = None
    files = manifest_of(storage.path(key))
    ctx.log(f"{len(files)} files, {sum(f['bytes'] for f in files):,} bytes")
    _finish(ctx, key)
    result: dict[str, Any] = {
        "folder": key,
        "files": files,
        "precision": _precision(storage.path(key)),
        "output_url": reverse("registry:job-output", args=[ctx.job_id]),
    }
    if lineage is not None:
        result["lineage"] = lineage
    return result


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _precision(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "fp32"
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "float32")
    return {"bfloat16": "bf16", "float16": "fp16"}.get(dtype, "fp32")


# ------------------------------------------------------------------ model.evaluate


def run_evaluate(ctx: JobContext, spec: ModelEvaluateSpec) -> dict:
    from gpu_agent.models import generate, perplexity

    version = _version(ctx, spec.model_version_id)
    folder = _verified_folder(ctx, version)
    if spec.kind == "perplexity":
        corpus = _corpus(
            ctx, spec.corpus_id or (version.run.corpus_id if version.run is not None else None)
        )
        if corpus is None:
            raise JobFailed("no corpus to evaluate perplexity on")
        ctx.log(f"perplexity on the validation split of {corpus} (at most {spec.max_sequences})")
        result = in_thread(
            ctx,
            "computing perplexity",
            lambda: perplexity(
                folder,
                corpus,
                split="val",
                max_sequences=spec.max_sequences,
                batch_size=spec.batch_size,
            ),
        )
        ctx.log(f"perplexity {result['perplexity']:.3f} over {result['tokens']:,} tokens")
    else:
        ctx.log(f"generating from {len(spec.prompts)} prompts")
        result = in_thread(
            ctx,
            "generating",
            lambda: generate(
                folder,
                spec.prompts,
                temperature=spec.temperature,
                top_p=spec.top_p,
                repetition_penalty=spec.repetition_penalty,
                max_new_tokens=spec.max_new_tokens,
                seed=spec.seed,
            ),
        )
    ctx.progress(99, "recording the evaluation")
    return {
        "evaluation": result,
        "output_url": reverse("registry:job-output", args=[ctx.job_id]),
    }


# ------------------------------------------------------------------ model.quantize


def _measure(ctx: JobContext, folder: Path, corpus: Path | None, what: str) -> dict[str, Any]:
    from gpu_agent.models import measure

    return in_thread(ctx, f"measuring {what}", lambda: measure(folder, corpus_dir=corpus))


def run_quantize(ctx: JobContext, spec: ModelQuantizeSpec) -> dict:
    from gpu_agent.models import quantize

    parent = _version(ctx, spec.model_version_id)
    if parent.is_legacy or parent.parent_id is not None:
        raise JobFailed(f"{parent} is already quantized: quantize its full-precision parent")
    src = _verified_folder(ctx, parent)
    corpus = _corpus(ctx, spec.corpus_id)
    calibration = _corpus(ctx, spec.calibration_corpus_id) if spec.algorithm == "gptq" else None
    storage = model_storage()
    key = model_key(ctx.job_id)
    quant: dict[str, Any] = {}
    if not storage.exists(key):
        how = spec.algorithm + (f" on {calibration}" if calibration else "")
        ctx.log(f"quantizing {parent} to {spec.method} ({how})")
        with storage.atomic_dir(key) as tmp:
            try:
                quant = in_thread(
                    ctx,
                    f"quantizing to {spec.method} ({spec.algorithm})",
                    lambda: quantize(
                        src,
                        tmp / "out",
                        method=spec.method,
                        group_size=spec.group_size,
                        algorithm=spec.algorithm,
                        calibration_dir=calibration,
                        calibration_samples=spec.calibration_samples,
                        calibration_seq_len=spec.calibration_seq_len,
                        device="cpu",
                    ),
                )
            except ValueError as exc:  # ModelFolderError too: the reason, as the job's
                raise JobFailed(str(exc)) from None
            if quant.get("kept_16_bit"):
                ctx.log(
                    f"kept 16-bit (input width not a multiple of {spec.group_size}): "
                    + ", ".join(quant["kept_16_bit"])
                )
            for path in list((tmp / "out").iterdir()):  # the engine wants a new folder
                path.rename(tmp / path.name)
            (tmp / "out").rmdir()
            for path in sorted(src.iterdir()):  # tokenizer and lineage files
                if not path.is_file() or (tmp / path.name).exists():
                    continue
                if any(path.match(p) for p in WEIGHT_FILES) or path.name == "config.json":
                    continue
                _copy(path, tmp / path.name)
            problems = unsafe_files(tmp)
            if problems:
                raise JobFailed("; ".join(problems))
    folder = storage.path(key)
    files = manifest_of(folder)
    parent_measured = parent.measured or _measure(ctx, src, corpus, str(parent))
    measured = _measure(ctx, folder, corpus, "the quantized version")
    if measured.get("perplexity") is not None and parent_measured.get("perplexity") is not None:
        measured["perplexity_delta"] = measured["perplexity"] - parent_measured["perplexity"]
    ctx.log(
        f"{spec.method}: {measured.get('size_bytes', 0):,} bytes "
        f"(parent {parent_measured.get('size_bytes', 0):,}), perplexity "
        f"{measured.get('perplexity')} (parent {parent_measured.get('perplexity')})"
    )
    _finish(ctx, key)
    return {
        "folder": key,
        "files": files,
        "method": spec.method,
        "quant": quant,
        "measured": measured,
        "parent_measured": parent_measured,
        "output_url": reverse("registry:job-output", args=[ctx.job_id]),
    }


# ------------------------------------------------------------------ model.export_onnx


def run_export_onnx(ctx: JobContext, spec: ModelOnnxSpec) -> dict:
    from gpu_agent.models.folder import ModelFolderError
    from gpu_agent.models.onnx_export import export_onnx

    parent = _version(ctx, spec.model_version_id)
    if parent.parent_id is not None:
        raise JobFailed(f"{parent} is derived: export its full-precision parent")
    src = _verified_folder(ctx, parent)
    storage = model_storage()
    key = model_key(ctx.job_id)
    onnx: dict[str, Any] = {}
    if not storage.exists(key):
        ctx.log(f"exporting {parent} to ONNX, then checking it with onnxruntime")
        with storage.atomic_dir(key) as tmp:
            try:
                onnx = in_thread(
                    ctx,
                    "exporting to ONNX and verifying with onnxruntime",
                    lambda: export_onnx(src, tmp / "out", max_new_tokens=spec.max_new_tokens),
                )
            except ModelFolderError as exc:
                raise JobFailed(str(exc)) from None
            for path in list((tmp / "out").iterdir()):
                path.rename(tmp / path.name)
            (tmp / "out").rmdir()
            lineage = src / LINEAGE_FILE
            if lineage.is_file() and not (tmp / LINEAGE_FILE).exists():
                _copy(lineage, tmp / LINEAGE_FILE)
    else:
        ctx.log("an earlier attempt wrote the whole folder; registering it")
        report = storage.path(key) / "verification.json"
        onnx = {"verification": json.loads(report.read_text("utf-8"))} if report.is_file() else {}
    folder = storage.path(key)
    files = manifest_of(folder)
    checked = (onnx.get("verification") or {}).get("prompts") or []
    ctx.log(
        f"{len(files)} files, {sum(f['bytes'] for f in files):,} bytes; onnxruntime matched "
        f"transformers' greedy tokens on {sum(r['identical'] for r in checked)} of "
        f"{len(checked)} prompts"
    )
    _finish(ctx, key)
    return {
        "folder": key,
        "files": files,
        "onnx": {k: v for k, v in onnx.items() if k != "files"},
        "output_url": reverse("registry:job-output", args=[ctx.job_id]),
    }


# ------------------------------------------------------------------ the kinds

# (spec, title, description, handler, where jobs of the kind are created)
_KINDS: list[tuple[type[Any], str, str, Callable[[JobContext, Any], dict[str, Any]], str]] = [
    (
        ModelExportSpec,
        "Model: register",
        "Export a run's complete checkpoint (safetensors, config, tokenizer) as a model version.",
        run_export,
        "POST /api/v1/models/",
    ),
    (
        ModelEvaluateSpec,
        "Model: evaluate",
        "Perplexity on a corpus's validation split, or generation on a prompt set.",
        run_evaluate,
        "POST /api/v1/models/<version>/evaluate/",
    ),
    (
        ModelQuantizeSpec,
        "Model: quantize",
        "Make a derived w4a16 / w8a16 / fp8 (compressed-tensors) or bf16 / fp16 version, "
        "round-to-nearest or GPTQ-calibrated, and measure it against its parent.",
        run_quantize,
        "POST /api/v1/models/<version>/quantize/",
    ),
    (
        ModelOnnxSpec,
        "Model: export to ONNX",
        "An ONNX graph with a KV cache, registered once onnxruntime's greedy tokens match "
        "transformers'.",
        run_export_onnx,
        "POST /api/v1/models/<version>/export-onnx/",
    ),
]
for _spec, _title, _description, _handler, _endpoint in _KINDS:
    kinds.register(
        kinds.JobKind(
            name=_spec.KIND,
            title=_title,
            description=_description,
            spec=_spec,
            queue=Queue.PIPELINES.value,
            submit_cap=Cap.TRAINING_WRITE,
            handler=_handler,
            service_endpoint=_endpoint,
            max_attempts=2,
        )
    )
