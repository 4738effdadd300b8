"""Drop documents shorter or longer than a number of characters (characters, not
bytes, so a Chinese document is not judged three times longer than it reads)."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule


@dataclass(kw_only=True)
class Params:
    min_chars: int = field(default=50, metadata={"help": "Drop documents shorter than this."})
    max_chars: int = field(default=1_000_000, metadata={"help": "Drop documents longer than this."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if self.min_chars < 0:
            errors["min_chars"] = ["must be 0 or more"]
        if self.max_chars < 1:
            errors["max_chars"] = ["must be 1 or more"]
        elif self.max_chars < self.min_chars:
            errors["max_chars"] = ["must be at least min_chars"]
        return errors


class LengthFilter(Rule):
    name = "length_filter"
    label = "Length filter"
    help = "Drops documents outside a range of lengths, in characters."
    Params = Params

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        n = len(text)
        if n < self.params.min_chars:
            return None, {"too_short": 1}
        if n > self.params.max_chars:
            return None, {"too_long": 1}
        return text, {}
