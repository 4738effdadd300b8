"""Drop documents shorter or longer than a reading length.

The length is what a reader would count, not bytes and not raw characters: one
character for Latin, Cyrillic, Greek and other alphabets (spaces and punctuation
included), and ``CJK_WEIGHT`` (3) for each Chinese character (Han), Japanese kana and
Korean Hangul syllable. One such character carries about as much as three to four
letters of English (an English word is about 6 characters with its space; the same
meaning takes about 1.5 to 2 Chinese characters), so counting raw characters judged
a Chinese sentence three times shorter than its English translation, and the
default minimum of 50 dropped every ordinary Chinese sentence. Now a 17-character
Chinese sentence (51) passes the default, as an English one of 50 characters does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule

CJK_WEIGHT = 3
# Han (CJK unified ideographs, extension A, compatibility, extensions B-G), kana
# (hiragana, katakana and their extensions, half-width katakana) and Hangul syllables
# and jamo: the characters that count CJK_WEIGHT each.
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
UNIT_HELP = (
    "Reading length: characters, with each Chinese character, Japanese kana and Korean "
    f"syllable counted as {CJK_WEIGHT} (they are that dense)."
)


def reading_length(text: str) -> int:
    """len(text), plus CJK_WEIGHT - 1 for each CJK character (see the module docstring)."""
    if text.isascii():
        return len(text)
    return len(text) + (CJK_WEIGHT - 1) * sum(1 for _ in _CJK.finditer(text))


@dataclass(kw_only=True)
class Params:
    min_chars: int = field(
        default=50,
        metadata={
            "help": "Drop documents shorter than this reading length (a CJK character counts "
            f"{CJK_WEIGHT}: 50 keeps a 17-character Chinese sentence)."
        },
    )
    max_chars: int = field(
        default=1_000_000,
        metadata={"help": "Drop documents longer than this reading length."},
    )

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
    help = "Drops documents outside a range of lengths. " + UNIT_HELP
    Params = Params

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        low, high = self.params.min_chars, self.params.max_chars
        n = len(text)
        # The reading length is between n and CJK_WEIGHT * n: count only when it matters.
        if n > high:
            return None, {"too_long": 1}
        if n < low or n * CJK_WEIGHT > high:
            n = reading_length(text)
            if n < low:
                return None, {"too_short": 1}
            if n > high:
                return None, {"too_long": 1}
        return text, {}
