"""Shared by the PII rules: find spans, replace them, count hits.

Each ``pii_*`` module has a ``find(text) -> list[(start, end)]`` detector (what the
labelled-sample test measures) and a rule that masks what it finds. Masks contain
no digits or ``@``, so a later rule cannot match inside an earlier rule's mask,
and the rules can run in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule

Span = tuple[int, int]


@dataclass(kw_only=True)
class TagParams:
    replacement: str = field(default="", metadata={"help": "What a match becomes."})

    def check(self) -> dict[str, list[str]]:
        if not 1 <= len(self.replacement) <= 64:
            return {"replacement": ["must be 1 to 64 characters"]}
        if any(c.isdigit() or c == "@" for c in self.replacement):
            return {"replacement": ["must contain no digits and no '@'"]}
        return {}


def tag_params(default: str) -> type:
    @dataclass(kw_only=True)
    class Params(TagParams):
        replacement: str = field(default=default, metadata={"help": "What a match becomes."})

    return Params


def replace_spans(text: str, spans: list[Span], mask: Callable[[str], str]) -> str:
    out = []
    last = 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(mask(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def overlaps(span: Span, others: list[Span]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


class PiiRule(Rule):
    """A rule that masks every span its module's ``find`` returns."""

    find: Callable[[str], list[Span]]

    def mask(self, match: str) -> str:
        return self.params.replacement

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        spans = type(self).find(text)
        if not spans:
            return text, {}
        return replace_spans(text, spans, self.mask), {"hits": len(spans)}
