"""Normalise whitespace: line endings to ``\\n``, runs of spaces and tabs (and, by
default, Unicode spaces such as NBSP and the ideographic space U+3000) to one
space, spaces around line breaks trimmed, blank-line runs capped. Letters of
every script are untouched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# Runs of two or more, or any single whitespace that is not a plain space.
_UNICODE_SPACE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_ASCII_SPACE = re.compile(r"[ \t]{2,}|\t")
_AROUND_NL = re.compile(r"[ \t]*\n[ \t]*")


@dataclass(kw_only=True)
class Params:
    unicode_spaces: bool = field(
        default=True, metadata={"help": "Also turn NBSP, U+3000 and other Unicode spaces into ' '."}
    )
    strip_lines: bool = field(default=True, metadata={"help": "Trim spaces at line ends."})
    max_newlines: int = field(
        default=2, metadata={"help": "Most consecutive line breaks kept (2 = one blank line)."}
    )

    def check(self) -> dict[str, list[str]]:
        if not 1 <= self.max_newlines <= 10:
            return {"max_newlines": ["must be between 1 and 10"]}
        return {}


class NormalizeWhitespace(Rule):
    name = "normalize_whitespace"
    label = "Normalise whitespace"
    help = "Collapses spaces, trims lines, caps blank lines; keeps every script intact."
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._many_nl = re.compile("\n{%d,}" % (params.max_newlines + 1))
        self._nl = "\n" * params.max_newlines

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        p = self.params
        new = _LINE_BREAKS.sub("\n", text)
        new = (_UNICODE_SPACE if p.unicode_spaces else _ASCII_SPACE).sub(" ", new)
        if p.strip_lines:
            new = _AROUND_NL.sub("\n", new)
        new = self._many_nl.sub(self._nl, new).strip()
        removed = len(text) - len(new)
        return new, ({"chars_removed": removed} if removed else {})
