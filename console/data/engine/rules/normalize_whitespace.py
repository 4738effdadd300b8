"""Normalise whitespace: line endings to ``\\n``, runs of spaces and tabs (and, by
default, Unicode spaces such as NBSP and the ideographic space U+3000) to one
space, spaces around line breaks trimmed, blank-line runs capped. Letters of
every script are untouched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule

_OTHER_BREAKS = re.compile(r"[\r\x0b\x0c\x85\u2028\u2029]")
# Whitespace other than space and newline (every str.isspace() character, listed:
# a plain class scans faster than the negated [^\S\n ]).
_ODD_SPACE = re.compile(
    r"[\t\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
_ASCII_ODD_SPACE = re.compile(r"[\t\r\x0b\x0c\x1c-\x1f]")
_SPACES = re.compile(r" {2,}")
_AROUND_NL = re.compile(r" *\n *")


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
        self._many_nl = re.compile(f"\n{{{params.max_newlines + 1},}}")
        self._nl = "\n" * (params.max_newlines + 1)

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        # Cheap substring tests first: most documents need little or nothing.
        p = self.params
        new = text
        odd = (_ASCII_ODD_SPACE if text.isascii() else _ODD_SPACE).search(new)
        if odd:  # some whitespace other than plain spaces and newlines
            new = _OTHER_BREAKS.sub("\n", new.replace("\r\n", "\n")).replace("\t", " ")
            if p.unicode_spaces:
                new = _ODD_SPACE.sub(" ", new)
        if "  " in new:
            new = _SPACES.sub(" ", new)
        if p.strip_lines and (" \n" in new or "\n " in new):
            new = _AROUND_NL.sub("\n", new)
        if self._nl in new:
            new = self._many_nl.sub(self._nl[:-1], new)
        new = new.strip()
        removed = len(text) - len(new)
        return new, ({"chars_removed": removed} if removed else {})
