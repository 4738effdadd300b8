"""Drop low-quality documents (after the Gopher heuristics, made script-neutral):

* symbol ratio: the share of non-space characters that are neither letters,
  marks nor numbers (punctuation, symbols, controls). Prose in English runs at a
  few percent, Chinese with its full-width punctuation near 15%; menus, tables of
  separators and markup run far higher.
* repeated lines: the share of non-empty lines that repeat an earlier line of the
  same document (navigation, cookie banners, boilerplate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules._unicode import matcher
from console.data.engine.rules.base import Counters, Rule

_NON_WORD = frozenset(
    {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Cc", "Cf", "Co", "Cn"}
)
_SPACES = frozenset(ord(c) for c in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85")
_ASCII_SYMBOL = re.compile(r"[!-/:-@\[-`{-~\x00-\x08\x0e-\x1b\x7f]")


@dataclass(kw_only=True)
class Params:
    max_symbol_ratio: float = field(
        default=0.3, metadata={"help": "Drop when more of the non-space text is symbols."}
    )
    max_repeated_line_fraction: float = field(
        default=0.3, metadata={"help": "Drop when more of the lines repeat earlier lines."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 0 < self.max_symbol_ratio <= 1:
            errors["max_symbol_ratio"] = ["must be above 0 and at most 1"]
        if not 0 < self.max_repeated_line_fraction <= 1:
            errors["max_repeated_line_fraction"] = ["must be above 0 and at most 1"]
        return errors


def _whitespace(text: str) -> int:
    """Spaces, tabs and line breaks, and the ideographic space (rarer kinds of
    whitespace are too rare to move the ratio)."""
    n = text.count(" ") + text.count("\n") + text.count("\t") + text.count("\r")
    if not text.isascii():
        n += text.count("\u3000") + text.count("\xa0")
    return n


def symbol_ratio(text: str) -> float:
    visible = len(text) - _whitespace(text)
    if visible <= 0:
        return 0.0
    if text.isascii():
        symbols = len(_ASCII_SYMBOL.findall(text))
    else:
        symbols = matcher(_NON_WORD, _SPACES).count(text)
    return symbols / visible


def repeated_line_fraction(text: str) -> float:
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        return 0.0
    return (len(lines) - len(set(lines))) / len(lines)


class QualityFilter(Rule):
    name = "quality_filter"
    label = "Quality filter"
    help = "Drops documents made mostly of symbols or of repeated lines."
    Params = Params

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        if symbol_ratio(text) > self.params.max_symbol_ratio:
            return None, {"symbol_ratio": 1}
        if repeated_line_fraction(text) > self.params.max_repeated_line_fraction:
            return None, {"repeated_lines": 1}
        return text, {}
