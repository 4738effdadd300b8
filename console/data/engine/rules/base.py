"""What a cleaning rule is.

A rule module defines a ``Params`` dataclass (typed, with defaults, a ``check()``
returning field errors, validated by ``gpu_agent.spec.spec_from_dict``) and a
``Rule`` subclass whose ``apply(text, index)`` returns the new text, or None to
drop the document, and a dict of counters for the report.

``kind`` says where a rule may run: ``"map"`` rules look at one document at a
time and run in worker processes; ``"dedup"`` rules keep state across documents
and run in the pipeline's own process, seeing every document in input order.
Add a rule by copying a sibling module and listing it in ``rules/__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

Counters = dict[str, int]


@dataclass(kw_only=True)
class NoParams:
    def check(self) -> dict[str, list[str]]:
        return {}


class Rule:
    name: ClassVar[str]
    label: ClassVar[str]
    help: ClassVar[str]
    kind: ClassVar[str] = "map"
    pii_type: ClassVar[str | None] = None
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any) -> None:
        self.params = params

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        raise NotImplementedError

    def apply_chunk(self, chunk: list[tuple[int, str]]) -> list[tuple[str | None, Counters]]:
        """``apply`` over a chunk of (index, text), in order. A rule that is faster on
        many documents at once (near_dedup's vectorised MinHash) overrides this."""
        return [self.apply(text, index) for index, text in chunk]

    def summary(self) -> dict[str, Any]:
        """Rule-level results beyond counters (dedup clusters); JSON-serialisable."""
        return {}


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))
