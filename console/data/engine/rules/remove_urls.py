"""Remove URLs: ``http(s)://``, ``ftp://`` and ``www.`` links, also when glued to
text in scripts without spaces (``访问https://example.com了解``). Trailing
punctuation and an unbalanced closing bracket stay in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.data.engine.rules.base import Counters, Rule

_URL = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:https?|ftp)://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*"


def _trim(url: str) -> str:
    while url:
        last = url[-1]
        unbalanced = (last == ")" and url.count("(") < url.count(")")) or (
            last == "]" and url.count("[") < url.count("]")
        )
        if last in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


@dataclass(kw_only=True)
class Params:
    replacement: str = field(default="", metadata={"help": "Text put where a URL was."})

    def check(self) -> dict[str, list[str]]:
        if len(self.replacement) > 64:
            return {"replacement": ["must be at most 64 characters"]}
        return {}


class RemoveUrls(Rule):
    name = "remove_urls"
    label = "Remove URLs"
    help = "Removes http(s)://, ftp:// and www. links."
    Params = Params

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        if "://" not in text and "www." not in text and "WWW." not in text:
            return text, {}
        found = 0

        def repl(m: re.Match) -> str:
            nonlocal found
            url = _trim(m.group())
            if len(url) < 5:
                return m.group()
            found += 1
            return self.params.replacement + m.group()[len(url) :]

        new = _URL.sub(repl, text)
        return new, ({"urls": found} if found else {})
