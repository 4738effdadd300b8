"""Drop near-duplicates with MinHash LSH (numpy, no extra dependency).

Shingles are ``shingle_size`` consecutive tokens; a token is a run of letters,
marks and digits in scripts written with spaces, and a single character in
Chinese, Japanese and Korean (so ``shingle_size=5`` means five-character shingles
there). ``num_perm`` random bijections modulo 2**32 give the MinHash signature.
Bands and rows are chosen for the threshold as datasketch does (minimising the
weighted false-positive and false-negative areas), weighted towards recall
because candidates are then verified: a document is dropped only when its
estimated Jaccard similarity with an earlier *kept* document is at least
``threshold``.

State per kept document: one ``U64Map`` entry per band (24-48 bytes each; 11
bands at the default threshold) and the low byte of each signature value
(``num_perm`` bytes; "b-bit MinHash": the share m of equal low bytes estimates J
as (m - 1/256) / (1 - 1/256)), plus an 8-byte document index: about 0.5 KB per
kept document with the defaults, whatever its length (``summary()["state_bytes"]``).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from console.data.engine.rules._clusters import ClusterLog
from console.data.engine.rules._hashmap import U64Map
from console.data.engine.rules.base import Counters, Rule

_CJK_RANGES = (
    (0x2E80, 0x2FDF),
    (0x3040, 0x30FF),
    (0x3100, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
)
_BLOCK = 4096  # shingles per block when taking minimums (bounds the temporary matrix)


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


def _mix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser."""
    x = x ^ (x >> np.uint32(16))
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


_POWERS: dict[int, np.ndarray] = {}
_POWERS_CACHED = 1 << 20  # 4 MB per base; longer batches compute their own


def _powers(base: int, n: int) -> np.ndarray:
    """base**i mod 2**32 for i in range(n)."""
    cached = _POWERS.get(base)
    if cached is not None and len(cached) >= n:
        return cached[:n]
    out = np.full(max(n, min(2 * n, _POWERS_CACHED)), base, dtype=np.uint32)
    out[:1] = 1
    out = np.cumprod(out, dtype=np.uint32)
    if len(out) <= _POWERS_CACHED:
        _POWERS[base] = out
    return out[:n]


def _char_classes() -> np.ndarray:
    """Per code point: 0 separates tokens, 1 is part of a word (letters, marks,
    digits, "_"), 2 is a token by itself (CJK). Astral code points are words."""
    table = np.ones(0x110000, dtype=np.uint8)
    for cp in range(0x10000):
        cat = unicodedata.category(chr(cp))
        if cat[0] not in "LMN" and cp != 0x5F:
            table[cp] = 0
    for lo, hi in _CJK_RANGES:
        table[lo : hi + 1] = 2
    return table


_CLASSES: np.ndarray | None = None
_BASE = 0x01000193  # odd, so invertible modulo 2**32
_BASE_INV = pow(_BASE, -1, 2**32)


class MinHasher:
    """Token hashes, shingles and MinHash signatures for a batch of documents at
    once, vectorised with numpy in 32-bit arithmetic (per-document numpy calls would
    cost more than the arithmetic itself).

    Token hash: the polynomial hash of the token's code points modulo 2**32, read
    off prefix sums (sum of c_j * B**-j, times B**end), then MurmurHash3-mixed.
    Shingle hash: ``shingle_size`` consecutive token hashes of one document combined
    polynomially (a document with fewer tokens is one shingle), mixed. Signature
    value i: the minimum over the document's shingles x of (a_i x + b_i) mod 2**32,
    a_i odd (a random bijection). Deterministic across processes and runs.
    """

    def __init__(self, num_perm: int, shingle_size: int, lowercase: bool, seed: int) -> None:
        global _CLASSES
        if _CLASSES is None:
            _CLASSES = _char_classes()
        self.classes = _CLASSES
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.lowercase = lowercase
        self._a = rng.integers(0, 2**32, size=(num_perm, 1), dtype=np.uint32) | np.uint32(1)
        self._b = rng.integers(0, 2**32, size=(num_perm, 1), dtype=np.uint32)

    def token_hashes(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(uint32 hash of every token, index of its document), in document order."""
        if self.lowercase:
            texts = [t.lower() for t in texts]
        joined = "\n".join(texts)  # "\n" separates tokens, so none spans two documents
        cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cls = self.classes[cp]
        word = cls == 1
        joined_next = word[:-1] & word[1:]  # char i and i+1 are in the same token
        is_tok = cls != 0
        start = is_tok.copy()
        start[1:] &= ~joined_next
        end = is_tok
        end[:-1] &= ~joined_next
        starts = np.flatnonzero(start)
        if not starts.size:
            return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64)
        ends = np.flatnonzero(end)
        n = len(cp)
        prefix = np.zeros(n + 1, dtype=np.uint32)
        np.cumsum(cp * _powers(_BASE_INV, n), dtype=np.uint32, out=prefix[1:])
        hashes = (prefix[ends + 1] - prefix[starts]) * _powers(_BASE, n)[ends]
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        seps = np.cumsum(lengths + 1) - 1  # where each joining newline is
        doc = np.searchsorted(seps[:-1], starts, side="right")
        return _mix32(hashes), doc

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(uint32 signatures, one row per document; bool: the document had tokens)."""
        n_docs = len(texts)
        h, doc = self.token_hashes(texts)
        has = np.zeros(n_docs, dtype=bool)
        has[doc] = True
        k = self.shingle_size
        counts = np.bincount(doc, minlength=n_docs)
        base = np.uint32(_BASE)
        # Shingles of k tokens that stay inside one document ...
        sh_parts, sh_doc_parts = [], []
        if len(h) >= k:
            n = len(h) - k + 1
            sh = h[:n].copy()
            for j in range(1, k):
                sh *= base
                sh += h[j : j + n]
            inside = doc[:n] == doc[k - 1 :]
            sh_parts.append(sh[inside])
            sh_doc_parts.append(doc[:n][inside])
        # ... and one shingle of all tokens for documents with fewer than k.
        for d in np.flatnonzero((counts > 0) & (counts < k)):
            toks = h[doc == d]
            acc = toks[:1].copy()
            for j in range(1, len(toks)):
                acc *= base
                acc += toks[j : j + 1]
            sh_parts.append(acc)
            sh_doc_parts.append(np.array([d], dtype=np.int64))
        sig = np.full((n_docs, self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        if sh_parts:
            sh = _mix32(np.concatenate(sh_parts))
            sh_doc = np.concatenate(sh_doc_parts)
            order = np.argsort(sh_doc, kind="stable")
            self._min_into(sig, sh[order], sh_doc[order])
        return sig, has

    def _min_into(self, sig: np.ndarray, sh: np.ndarray, sh_doc: np.ndarray) -> None:
        """sig[d] = min over d's shingles of (a x + b), in blocks of _BLOCK shingles
        so the temporary matrix stays small (2 MB)."""
        for lo in range(0, len(sh), _BLOCK):
            m = self._a * sh[None, lo : lo + _BLOCK]
            m += self._b
            block_doc = sh_doc[lo : lo + _BLOCK]
            cuts = np.flatnonzero(np.diff(block_doc, prepend=-1))
            docs = block_doc[cuts]
            sig[docs] = np.minimum(sig[docs], np.minimum.reduceat(m, cuts, axis=1).T)


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

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """One uint64 key per band, shape (documents, bands)."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64)
        bands = used.reshape(len(sigs), self.bands, self.rows)
        return _mix((bands * self._band_mult).sum(axis=2) + self._band_salt)

    def _similarity(self, row: int, low: np.ndarray) -> float:
        match = float(np.count_nonzero(self._sigs[row] == low)) / len(low)
        return max(0.0, (match - 1 / 256) / (1 - 1 / 256))

    def _keep(self, index: int, low: np.ndarray) -> int:
        row = self._kept
        if row == len(self._doc):
            self._sigs = np.concatenate([self._sigs, np.zeros_like(self._sigs)])
            self._doc = np.concatenate([self._doc, np.zeros_like(self._doc)])
        self._sigs[row] = low
        self._doc[row] = index
        self._kept += 1
        return row

    def apply(self, text: str, index: int) -> tuple[str | None, Counters]:
        return self.apply_chunk([(index, text)])[0]

    def apply_chunk(self, chunk: list[tuple[int, str]]) -> list[tuple[str | None, Counters]]:
        if not chunk:
            return []
        sigs, has = self.hasher.signatures([text for _, text in chunk])
        keys = self.band_keys(sigs)
        lows = (sigs & 0xFF).astype(np.uint8)
        # Buckets as they were before this chunk, looked up at once; buckets filled
        # by this chunk's own documents go to a dict, flushed to the map at the end.
        before = self._buckets.get_many(keys.ravel()).reshape(keys.shape)
        added: dict[int, int] = {}
        results: list[tuple[str | None, Counters]] = []
        threshold = self.params.threshold
        for i, (index, text) in enumerate(chunk):
            if not has[i]:
                results.append((text, {}))
                continue
            doc_keys = keys[i].tolist()
            rows = {r for r in before[i].tolist() if r >= 0}
            rows.update(added[k] for k in doc_keys if k in added)
            best_row, best_sim = -1, 0.0
            for row in rows:
                sim = self._similarity(row, lows[i])
                if sim > best_sim:
                    best_row, best_sim = row, sim
            if best_row >= 0 and best_sim >= threshold:
                self.clusters.add(int(self._doc[best_row]), index, best_sim)
                results.append((None, {"near_duplicates": 1}))
                continue
            row = self._keep(index, lows[i])
            for k in doc_keys:
                added.setdefault(k, row)
            results.append((text, {}))
        if added:
            self._buckets.update_missing(
                np.fromiter(added.keys(), dtype=np.uint64, count=len(added)),
                np.fromiter(added.values(), dtype=np.int64, count=len(added)),
            )
        return results

    def summary(self) -> dict[str, Any]:
        state = self._buckets.nbytes + self._sigs.nbytes + self._doc.nbytes
        return {
            **self.clusters.summary(),
            "bands": self.bands,
            "rows": self.rows,
            "state_bytes": int(state),
        }
