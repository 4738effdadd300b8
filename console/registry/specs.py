"""The typed specs of the registry's job kinds (run by console Celery workers, queue
``pipelines``). Ids name console rows, which the handlers reload and check against the
job's project."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

EVAL_KINDS = ("perplexity", "generation")
# Kept in step with gpu_agent.models.quantize (METHODS, ALGORITHMS, GROUP_SIZES); a test
# says so. w8a16 / w4a16 / fp8 are written as compressed-tensors.
QUANT_METHODS = ("w4a16", "w8a16", "fp8", "bf16", "fp16")
QUANT_ALGORITHMS = ("rtn", "gptq")
CALIBRATED_METHODS = ("w8a16", "w4a16")
GROUP_SIZES = (32, 64, 128, 256)
MIN_CALIBRATION_SEQUENCES = 8
MAX_CALIBRATION_SEQUENCES = 4096
MAX_PROMPTS = 32
MAX_PROMPT_CHARS = 2000
_MAX_ID = 2**63 - 1


def _check_id(errors: dict[str, list[str]], name: str, value: int | None) -> None:
    if value is not None and not 1 <= value <= _MAX_ID:
        errors[name] = ["must be a positive id"]


@dataclass(kw_only=True)
class ModelExportSpec:
    """Copy a complete checkpoint's Hugging Face weights, config and the corpus's
    tokenizer into a new model version."""

    KIND: ClassVar[str] = "model.export"

    run_id: int = field(metadata={"help": "The run whose checkpoint is registered."})
    step: int = field(metadata={"help": "The checkpoint's step."})
    name: str = field(metadata={"help": "The model's name (versions are numbered per name)."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "run_id", self.run_id)
        if not 0 <= self.step <= _MAX_ID:
            errors["step"] = ["must be a checkpoint step (0 or more)"]
        if not 1 <= len(self.name.strip()) <= 100:
            errors["name"] = ["must be 1 to 100 characters"]
        return errors


@dataclass(kw_only=True)
class ModelEvaluateSpec:
    """Perplexity on a tokenized corpus's validation split, or generation on prompts."""

    KIND: ClassVar[str] = "model.evaluate"

    model_version_id: int = field(metadata={"help": "The model version to evaluate."})
    kind: str = field(default="perplexity", metadata={"help": "perplexity or generation."})
    corpus_id: int | None = field(
        default=None, metadata={"help": "Tokenized corpus (default: the source run's)."}
    )
    max_sequences: int = field(default=256, metadata={"help": "Validation sequences at most."})
    batch_size: int = field(default=8, metadata={"help": "Sequences per forward pass."})
    prompts: list[str] = field(default_factory=list, metadata={"help": "Generation prompts."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=0.92, metadata={"help": "Nucleus sampling threshold."})
    repetition_penalty: float = field(default=1.2, metadata={"help": "Repetition penalty."})
    max_new_tokens: int = field(default=64, metadata={"help": "New tokens per prompt."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "model_version_id", self.model_version_id)
        _check_id(errors, "corpus_id", self.corpus_id)
        if self.kind not in EVAL_KINDS:
            errors["kind"] = [f"must be one of: {', '.join(EVAL_KINDS)}"]
        if not 1 <= self.max_sequences <= 100_000:
            errors["max_sequences"] = ["must be between 1 and 100000"]
        if not 1 <= self.batch_size <= 1024:
            errors["batch_size"] = ["must be between 1 and 1024"]
        if self.kind == "generation" and not self.prompts:
            errors["prompts"] = ["give at least one prompt"]
        if len(self.prompts) > MAX_PROMPTS or any(
            not p.strip() or len(p) > MAX_PROMPT_CHARS for p in self.prompts
        ):
            errors["prompts"] = [
                f"1 to {MAX_PROMPTS} prompts, each 1 to {MAX_PROMPT_CHARS} characters"
            ]
        check_sampling(errors, self)
        return errors


def check_sampling(errors: dict[str, list[str]], spec) -> None:
    if not 0 <= spec.temperature <= 5:
        errors["temperature"] = ["must be between 0 and 5"]
    if not 0 < spec.top_p <= 1:
        errors["top_p"] = ["must be above 0 and at most 1"]
    if not 1 <= spec.repetition_penalty <= 5:
        errors["repetition_penalty"] = ["must be between 1 and 5"]
    if not 1 <= spec.max_new_tokens <= 2048:
        errors["max_new_tokens"] = ["must be between 1 and 2048"]
    if not 0 <= spec.seed <= 2**32 - 1:
        errors["seed"] = ["must be between 0 and 4294967295"]


@dataclass(kw_only=True)
class ModelQuantizeSpec:
    """Make a derived, quantized model version (compressed-tensors for w8a16, w4a16 and
    fp8) and measure it against its parent."""

    KIND: ClassVar[str] = "model.quantize"

    model_version_id: int = field(metadata={"help": "The model version to quantize."})
    method: str = field(
        metadata={"help": "w4a16, w8a16 (weight-only int), fp8 (W8A8-FP8), bf16 or fp16."}
    )
    algorithm: str = field(
        default="rtn",
        metadata={"help": "rtn (round to nearest, no data) or gptq (calibrated, w4a16/w8a16)."},
    )
    group_size: int = field(default=128, metadata={"help": "Group size of w4a16."})
    corpus_id: int | None = field(
        default=None, metadata={"help": "Corpus for perplexity (default: the source run's)."}
    )
    calibration_corpus_id: int | None = field(
        default=None,
        metadata={"help": "gptq: the tokenized dataset version to calibrate on (train split)."},
    )
    calibration_samples: int = field(
        default=128, metadata={"help": "gptq: calibration sequences (first of the train split)."}
    )
    calibration_seq_len: int = field(
        default=512, metadata={"help": "gptq: tokens per calibration sequence at most."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "model_version_id", self.model_version_id)
        _check_id(errors, "corpus_id", self.corpus_id)
        _check_id(errors, "calibration_corpus_id", self.calibration_corpus_id)
        if self.method not in QUANT_METHODS:
            errors["method"] = [f"must be one of: {', '.join(QUANT_METHODS)}"]
        if self.algorithm not in QUANT_ALGORITHMS:
            errors["algorithm"] = [f"must be one of: {', '.join(QUANT_ALGORITHMS)}"]
        elif self.algorithm == "gptq":
            if self.method not in CALIBRATED_METHODS:
                errors["algorithm"] = [
                    f"gptq calibrates {' and '.join(CALIBRATED_METHODS)}; "
                    f"{self.method} takes no calibration"
                ]
            if self.calibration_corpus_id is None:
                errors["calibration_corpus_id"] = ["gptq needs a calibration dataset version"]
        if self.group_size not in GROUP_SIZES:
            errors["group_size"] = [f"must be one of: {', '.join(map(str, GROUP_SIZES))}"]
        if not MIN_CALIBRATION_SEQUENCES <= self.calibration_samples <= MAX_CALIBRATION_SEQUENCES:
            errors["calibration_samples"] = [
                f"must be between {MIN_CALIBRATION_SEQUENCES} and {MAX_CALIBRATION_SEQUENCES}"
            ]
        if not 16 <= self.calibration_seq_len <= 8192:
            errors["calibration_seq_len"] = ["must be between 16 and 8192"]
        return errors


@dataclass(kw_only=True)
class ModelOnnxSpec:
    """Export a full-precision version to ONNX (one decoder graph with a KV cache),
    verified by onnxruntime against transformers before it is registered."""

    KIND: ClassVar[str] = "model.export_onnx"

    model_version_id: int = field(metadata={"help": "The full-precision version to export."})
    max_new_tokens: int = field(
        default=16, metadata={"help": "Greedy tokens compared per verification prompt."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        _check_id(errors, "model_version_id", self.model_version_id)
        if not 1 <= self.max_new_tokens <= 256:
            errors["max_new_tokens"] = ["must be between 1 and 256"]
        return errors
