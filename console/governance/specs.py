"""The typed spec of the ``review.check`` job kind (run by console Celery workers on
queue ``pipelines``): which review item to check, and the sampling parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from console.governance.checks.probes import FACTCHECK_MODES, check_qa
from console.registry.specs import check_sampling

BIAS_ATTRIBUTES = ("gender", "age", "religion", "origin")


@dataclass(kw_only=True)
class ReviewCheckSpec:
    """Run an item's automated check on the review's model version."""

    KIND: ClassVar[str] = "review.check"

    review_item_id: int = field(metadata={"help": "The checklist item whose check runs."})
    samples: int = field(default=2, metadata={"help": "Generations per prompt (1-16)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=0.92, metadata={"help": "Nucleus sampling threshold."})
    repetition_penalty: float = field(default=1.2, metadata={"help": "Repetition penalty."})
    max_new_tokens: int = field(default=32, metadata={"help": "New tokens per generation."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})
    attributes: list[str] = field(
        default_factory=list, metadata={"help": "Bias: attributes to probe (default all)."}
    )
    qa: list[dict] = field(
        default_factory=list, metadata={"help": "Fact check: [{question, answer}] pairs."}
    )
    match: str = field(default="normalised", metadata={"help": "Fact check: normalised|exact."})
    answer_tokens: int = field(default=16, metadata={"help": "Fact check: tokens per answer."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.review_item_id <= 2**63 - 1:
            errors["review_item_id"] = ["must be a positive id"]
        if not 1 <= self.samples <= 16:
            errors["samples"] = ["must be between 1 and 16"]
        if not 1 <= self.answer_tokens <= 128:
            errors["answer_tokens"] = ["must be between 1 and 128"]
        check_sampling(errors, self)
        bad = [a for a in self.attributes if a not in BIAS_ATTRIBUTES]
        if bad:
            errors["attributes"] = [f"unknown {bad}; use {', '.join(BIAS_ATTRIBUTES)}"]
        if self.match not in FACTCHECK_MODES:
            errors["match"] = [f"must be one of: {', '.join(FACTCHECK_MODES)}"]
        if self.qa:
            try:
                check_qa([dict(row) if isinstance(row, dict) else {} for row in self.qa])
            except ValueError as exc:
                errors["qa"] = [str(exc)]
        return errors

    def params(self) -> dict:
        out = {
            k: getattr(self, k)
            for k in ("samples", "temperature", "top_p", "repetition_penalty", "max_new_tokens")
        }
        out |= {"seed": self.seed, "match": self.match, "answer_tokens": self.answer_tokens}
        if self.attributes:
            out["attributes"] = list(self.attributes)
        if self.qa:
            out["qa"] = self.qa
        return out
