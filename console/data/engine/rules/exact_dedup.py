"""Drop exact duplicates: the first document with a given content keeps its place,
later copies are dropped. Content is compared by a 64-bit BLAKE2b hash of the
text (optionally case-folded with whitespace collapsed). State: one 64-bit hash
and one index per distinct document, 32-64 bytes each (``U64Map``), about 30 MB
per million distinct documents. Two different texts share a 64-bit hash with
probability about n^2 / 2^65: one in 37 million for a billion documents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from console.data.engine.rules._clusters import ClusterLog
from console.data.engine.rules._hashmap import U64Map
from console.data.engine.rules.base import Counters, Rule


@dataclass(kw_only=True)
class Params:
    normalize: bool = field(
        default=False,
        metadata={"help": "Ignore case and whitespace differences when comparing."},
    )

    def check(self) -> dict[str, list[str]]:
        return {}


def content_hash(text: str, normalize: bool = False) -> int:
    if normalize:
        text = " ".join(text.casefold().split())
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class ExactDedup(Rule):
    name = "exact_dedup"
    label = "Exact dedup"
    help = "Drops later copies of a document with identical content."
    kind = "dedup"
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._seen = U64Map()
        self.clusters = ClusterLog()

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        first = self._seen.setdefault(content_hash(text, self.params.normalize), index)
        if first != index:
            self.clusters.add(first, index)
            return None, {"duplicates": 1}
        return text, {}

    def summary(self) -> dict[str, Any]:
        return {**self.clusters.summary(), "state_bytes": self._seen.nbytes}
