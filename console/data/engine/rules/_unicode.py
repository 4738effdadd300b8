"""Characters by Unicode general category, fast enough for ``re``.

The standard library's ``re`` has no ``\\p{...}``. A class listing every range of a
category is slow to match once it holds characters beyond the BMP (``re`` then
scans the ranges one by one), so the class is built exactly for the BMP and
matches *every* astral character; the few astral matches are then decided by
``unicodedata`` one at a time. Built once per process (a few milliseconds).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def has_astral(text: str) -> bool:
    """Whether ``text`` has a character beyond the BMP (emoji, rare CJK): such a
    character takes two UTF-16 units. Encoding is several times faster than
    scanning for them with ``re``."""
    return not text.isascii() and len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


@dataclass(frozen=True)
class CategoryMatcher:
    categories: frozenset[str]
    keep: frozenset[int]
    extra: frozenset[int]
    pattern: re.Pattern  # the BMP characters exactly, and every astral character
    bmp: re.Pattern  # the BMP characters only

    def wants(self, ch: str) -> bool:
        """Whether a matched character really belongs (always true in the BMP)."""
        cp = ord(ch)
        if cp <= 0xFFFF or cp in self.extra:
            return True
        return cp not in self.keep and unicodedata.category(ch) in self.categories

    def remove(self, text: str) -> tuple[str, int]:
        """``text`` without the matching characters, and how many were removed."""
        if not has_astral(text):
            return self.bmp.subn("", text)
        removed = 0

        def repl(m: re.Match) -> str:
            nonlocal removed
            ch = m.group()
            if self.wants(ch):
                removed += 1
                return ""
            return ch

        new = self.pattern.sub(repl, text)
        return new, removed

    def count(self, text: str) -> int:
        n = len(self.bmp.findall(text))
        if has_astral(text):
            n += sum(1 for ch in _ASTRAL.findall(text) if self.wants(ch))
        return n


@functools.cache
def matcher(
    categories: frozenset[str],
    keep: frozenset[int] = frozenset(),
    extra: frozenset[int] = frozenset(),
) -> CategoryMatcher:
    """Characters of ``categories``, less those in ``keep``, plus those in ``extra``."""
    ranges: list[tuple[int, int]] = []
    start = -1
    category = unicodedata.category
    for cp in range(0x10000):
        hit = cp in extra or (cp not in keep and category(chr(cp)) in categories)
        if hit and start < 0:
            start = cp
        elif not hit and start >= 0:
            ranges.append((start, cp - 1))
            start = -1
    if start >= 0:
        ranges.append((start, 0xFFFF))
    bmp = "".join(_esc(a) if a == b else f"{_esc(a)}-{_esc(b)}" for a, b in ranges)
    everything = f"[{bmp}{_esc(0x10000)}-{_esc(0x10FFFF)}]"
    return CategoryMatcher(
        categories, keep, extra, re.compile(everything), re.compile(f"[{bmp}]" if bmp else "(?!)")
    )
