"""Drop near-duplicates with MinHash LSH (numpy, no extra dependency).

Shingles are ``shingle_size`` consecutive tokens; a token is a word in scripts
written with spaces and a single character in Chinese, Japanese and Korean (so
``shingle_size=5`` means five-character shingles there). Tokens are hashed with
CRC-32, shingles combined polynomially, and ``num_perm`` multiply-shift hash
functions give the MinHash signature. Bands and rows are chosen for the threshold
as datasketch does (minimising the weighted false-positive and false-negative
areas), weighted towards recall because candidates are then verified: a document
is dropped only when its estimated Jaccard similarity with an earlier *kept*
document is at least ``threshold``.

State per kept document: one ``U64Map`` entry per band (24-48 bytes each) and
the low byte of each signature value (``num_perm`` bytes; "b-bit MinHash": the
share m of equal low bytes estimates J as (m - 1/256) / (1 - 1/256)). With the
defaults that is well under 1 KB per kept document, whatever its length: under
1 GB of state for a million documents is far from the worst case, about 0.5 GB
per million is typical (see ``summary()["state_bytes"]``).
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.data.engine.rules._clusters import ClusterLog
from console.data.engine.rules._hashmap import U64Map
from console.data.engine.rules.base import Counters, Rule

_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKEN = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")
_BLOCK = 4096  # shingles per block when taking minimums (bounds the temporary matrix)
_SHINGLE_BASE = np.uint64(0x100000001B3)


def _area(y: np.ndarray, x: np.ndarray) -> float:
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum())


@functools.cache
def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.3, fn_weight: float = 0.7
) -> tuple[int, int]:
    """(bands, rows) minimising fp_weight * FP area + fn_weight * FN area."""
    xs_lo = np.linspace(0.0, threshold, 101)
    xs_hi = np.linspace(threshold, 1.0, 101)
    best = (1, num_perm)
    best_err = float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _area(1 - (1 - xs_lo**r) ** b, xs_lo)
            fn = _area((1 - xs_hi**r) ** b, xs_hi)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


@dataclass(kw_only=True)
class Params:
    threshold: float = field(
        default=0.8, metadata={"help": "Jaccard similarity at which a document is a near-dup."}
    )
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations (16 to 512)."})
    shingle_size: int = field(default=5, metadata={"help": "Tokens per shingle (1 to 20)."})
    lowercase: bool = field(default=True, metadata={"help": "Compare case-insensitively."})
    seed: int = field(default=1, metadata={"help": "Seed of the hash functions."})

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 0.1 <= self.threshold <= 0.99:
            errors["threshold"] = ["must be between 0.1 and 0.99"]
        if not 16 <= self.num_perm <= 512:
            errors["num_perm"] = ["must be between 16 and 512"]
        if not 1 <= self.shingle_size <= 20:
            errors["shingle_size"] = ["must be between 1 and 20"]
        if not 0 <= self.seed < 2**32:
            errors["seed"] = ["must be between 0 and 2**32 - 1"]
        return errors


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, so every bit of a band key is usable as a slot."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class MinHasher:
    def __init__(self, num_perm: int, shingle_size: int, lowercase: bool, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.lowercase = lowercase
        self._a = (rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) << np.uint64(1)) | (
            np.uint64(1)
        )
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)

    def shingles(self, text: str) -> np.ndarray:
        tokens = _TOKEN.findall(text.lower() if self.lowercase else text)
        if not tokens:
            return np.empty(0, dtype=np.uint64)
        h = np.fromiter(
            (zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens)
        )
        k = min(self.shingle_size, len(h))
        n = len(h) - k + 1
        out = h[:n].copy()
        for j in range(1, k):
            out = out * _SHINGLE_BASE + h[j : j + n]
        return np.unique(out)

    def signature(self, text: str) -> np.ndarray | None:
        """uint32 signature of ``num_perm`` values, or None for text with no tokens."""
        sh = self.shingles(text)
        if not sh.size:
            return None
        sig = np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        a = self._a[:, None]
        b = self._b[:, None]
        for start in range(0, sh.size, _BLOCK):
            block = sh[None, start : start + _BLOCK]
            np.minimum(sig, ((a * block + b) >> np.uint64(32)).min(axis=1), out=sig)
        return sig.astype(np.uint32)


class NearDedup(Rule):
    name = "near_dedup"
    label = "Near-duplicate dedup"
    help = "Drops documents too similar (MinHash LSH, Jaccard) to an earlier kept document."
    kind = "dedup"
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        p = params
        self.hasher = MinHasher(p.num_perm, p.shingle_size, p.lowercase, p.seed)
        self.bands, self.rows = optimal_bands(p.threshold, p.num_perm)
        rng = np.random.default_rng(p.seed + 1)
        self._band_mult = rng.integers(0, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._band_salt = rng.integers(0, 2**63, size=self.bands, dtype=np.uint64)
        self._buckets = U64Map(value_dtype=np.int32)
        self._sigs = np.zeros((1024, p.num_perm), dtype=np.uint8)
        self._doc = np.zeros(1024, dtype=np.int64)
        self._kept = 0
        self.clusters = ClusterLog()

    def band_keys(self, sig: np.ndarray) -> np.ndarray:
        bands = sig[: self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        return _mix((bands * self._band_mult).sum(axis=1) + self._band_salt)

    def similarity(self, row: int, low_bytes: np.ndarray) -> float:
        match = float(np.count_nonzero(self._sigs[row] == low_bytes)) / len(low_bytes)
        return max(0.0, (match - 1 / 256) / (1 - 1 / 256))

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        sig = self.hasher.signature(text)
        if sig is None:
            return text, {}
        keys = [int(k) for k in self.band_keys(sig)]
        low = (sig & 0xFF).astype(np.uint8)
        best_row, best_sim = -1, 0.0
        for row in {self._buckets.get(k) for k in keys} - {-1}:
            sim = self.similarity(row, low)
            if sim > best_sim:
                best_row, best_sim = row, sim
        if best_row >= 0 and best_sim >= self.params.threshold:
            self.clusters.add(int(self._doc[best_row]), index, best_sim)
            return None, {"near_duplicates": 1}
        row = self._kept
        if row == len(self._doc):
            self._sigs = np.concatenate([self._sigs, np.zeros_like(self._sigs)])
            self._doc = np.concatenate([self._doc, np.zeros_like(self._doc)])
        self._sigs[row] = low
        self._doc[row] = index
        self._kept += 1
        for k in keys:
            self._buckets.setdefault(k, row)
        return text, {}

    def summary(self) -> dict[str, Any]:
        state = self._buckets.nbytes + self._sigs.nbytes + self._doc.nbytes
        return {
            **self.clusters.summary(),
            "bands": self.bands,
            "rows": self.rows,
            "state_bytes": int(state),
        }
