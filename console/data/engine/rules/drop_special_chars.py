"""Drop special characters, Unicode-aware: letters, marks, numbers, punctuation,
spaces and ordinary symbols of every script stay (Chinese, Arabic, Devanagari with
its combining marks...). Dropped: control characters (except tab and line
breaks), private-use and surrogate code points, U+FFFD (the mark of a bad
decode), and optionally format characters (zero-width space, BOM, bidi
overrides; ZWJ and ZWNJ are kept, scripts need them), unassigned code points,
and other symbols (emoji, dingbats, box drawing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.data.engine.rules._unicode import matcher
from console.data.engine.rules.base import Counters, Rule

_ALWAYS = {"Cc", "Co", "Cs"}
_KEEP = frozenset({0x09, 0x0A, 0x0D, 0x200C, 0x200D})
_EMOJI_PARTS = frozenset({0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400)})  # VS-16, keycap, skin tones


@dataclass(kw_only=True)
class Params:
    drop_format: bool = field(
        default=True, metadata={"help": "Drop zero-width and bidi control characters."}
    )
    drop_unassigned: bool = field(
        default=True, metadata={"help": "Drop code points unassigned in Unicode."}
    )
    drop_symbols: bool = field(
        default=False, metadata={"help": "Also drop emoji, dingbats and other pictographs."}
    )
    drop_replacement_char: bool = field(
        default=True, metadata={"help": "Drop U+FFFD, left by a bad decode upstream."}
    )

    def check(self) -> dict[str, list[str]]:
        return {}


class DropSpecialChars(Rule):
    name = "drop_special_chars"
    label = "Drop special characters"
    help = "Removes control, private-use and invisible characters; optionally emoji."
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        cats = set(_ALWAYS)
        if params.drop_format:
            cats.add("Cf")
        if params.drop_unassigned:
            cats.add("Cn")
        extra: set[int] = set()
        if params.drop_symbols:
            cats.add("So")
            extra |= _EMOJI_PARTS
        keep = set(_KEEP)
        if params.drop_replacement_char:
            extra.add(0xFFFD)
        else:
            keep.add(0xFFFD)
        self._matcher = matcher(frozenset(cats), frozenset(keep), frozenset(extra))

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        new, removed = self._matcher.remove(text)
        return new, ({"chars_removed": removed} if removed else {})
