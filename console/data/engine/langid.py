"""A dependency-free *estimate* of a corpus's language mix.

This is not a language identifier. Each sampled document gets one label from its
dominant writing system: ``zh`` (Han without kana), ``ja`` (kana present),
``ko`` (Hangul), ``cyrillic``, ``arabic``, ``hebrew``, ``greek``, ``devanagari``,
``thai``, ``other``. Latin-script documents are told apart only between ``en``,
``de``, ``fr`` and ``es`` by counting a few dozen stopwords; anything else in
Latin script (Italian, Dutch, code, tables of numbers) is ``latin``. Mixed
documents get the label of their majority script. Shares are over sampled
documents (not bytes), so read the result as "roughly how much of what", good for
spotting a Chinese corpus with 5% English in it, not for compliance statements.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

SAMPLE_CHARS = 2000  # characters of each sampled document that are looked at

# (first code point, last code point, script), sorted, non-overlapping.
_RANGES = sorted(
    [
        (0x0041, 0x005A, "latin"),
        (0x0061, 0x007A, "latin"),
        (0x00C0, 0x024F, "latin"),
        (0x1E00, 0x1EFF, "latin"),
        (0x0370, 0x03FF, "greek"),
        (0x1F00, 0x1FFF, "greek"),
        (0x0400, 0x052F, "cyrillic"),
        (0x0590, 0x05FF, "hebrew"),
        (0x0600, 0x06FF, "arabic"),
        (0x0750, 0x077F, "arabic"),
        (0x08A0, 0x08FF, "arabic"),
        (0xFB50, 0xFDFF, "arabic"),
        (0xFE70, 0xFEFF, "arabic"),
        (0x0900, 0x097F, "devanagari"),
        (0x0E00, 0x0E7F, "thai"),
        (0x1100, 0x11FF, "hangul"),
        (0x3130, 0x318F, "hangul"),
        (0xAC00, 0xD7AF, "hangul"),
        (0x3040, 0x30FF, "kana"),
        (0x31F0, 0x31FF, "kana"),
        (0xFF66, 0xFF9F, "kana"),
        (0x3400, 0x4DBF, "han"),
        (0x4E00, 0x9FFF, "han"),
        (0xF900, 0xFAFF, "han"),
        (0x20000, 0x3134F, "han"),
    ]
)
_STARTS = np.array([lo for lo, _, _ in _RANGES], dtype=np.uint32)
_ENDS = np.array([hi for _, hi, _ in _RANGES], dtype=np.uint32)
_NAMES = [name for _, _, name in _RANGES]
_STOPWORDS = {
    "en": "the and of to in is that for it with as was on are be by this not or have from",
    "de": "der die und das ist nicht ein eine zu den von mit sich des auf für dem im auch",
    "fr": "le la les et des est une un du que pour dans qui pas sur au avec ce sont par",
    "es": "el la los las y que de en es una por con para del se no al lo como más",
}
_STOP_LANGS: dict[str, list[str]] = {}
for _lang, _words in _STOPWORDS.items():
    for _w in _words.split():
        _STOP_LANGS.setdefault(_w, []).append(_lang)
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def script_counts(text: str) -> Counter[str]:
    """Letters per script (letters outside the table are not counted)."""
    if text.isascii():  # only Latin letters possible; how many does not matter
        return Counter({"latin": 1 if _ASCII_LETTER.search(text) else 0})
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    at = np.searchsorted(_STARTS, cp, side="right") - 1
    inside = (at >= 0) & (cp <= _ENDS[np.maximum(at, 0)])
    counts = np.bincount(at[inside], minlength=len(_NAMES))
    out: Counter[str] = Counter()
    for name, n in zip(_NAMES, counts.tolist(), strict=True):
        if n:
            out[name] += n
    return out


SCRIPT_SAMPLE_CHARS = 400  # what script_label looks at: enough to see the majority

# What each label means, for reports ("removed 90% of the Chinese documents").
LABEL_NAMES = {
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "latin": "Latin-script",
    "cyrillic": "Cyrillic-script",
    "arabic": "Arabic-script",
    "hebrew": "Hebrew",
    "greek": "Greek",
    "devanagari": "Devanagari-script",
    "thai": "Thai",
    "other": "unlabelled",
}


def _script(sample: str) -> str:
    """The label of a sample's majority script: zh, ja, ko, latin, another script, other."""
    counts = script_counts(sample)
    kana = counts["kana"]
    if kana:
        counts["han"] += kana  # Japanese mixes kanji and kana
    if not counts or max(counts.values()) == 0:
        return "other"
    best = max(counts, key=lambda s: counts[s])
    if best in ("han", "kana"):
        # A few kana among many kanji is still Japanese; Chinese has none.
        return "ja" if kana * 20 >= counts["han"] else "zh"
    if best == "hangul":
        return "ko"
    return best


def script_label(text: str) -> str:
    """``classify`` without telling Latin-script languages apart (``latin`` for all of
    them), on the first SCRIPT_SAMPLE_CHARS characters: cheap enough to label every
    document of a cleaning run (the report's per-language drop counts)."""
    return _script(text[:SCRIPT_SAMPLE_CHARS])


def classify(text: str) -> str:
    """One label for one document (see the module docstring)."""
    sample = text[:SAMPLE_CHARS]
    best = _script(sample)
    if best != "latin":
        return best
    scores: Counter[str] = Counter()
    words = _WORD.findall(sample.lower())
    for w in words:
        for lang in _STOP_LANGS.get(w, ()):
            scores[lang] += 1
    if not scores:
        return "latin"
    lang, score = scores.most_common(1)[0]
    # Require stopwords to be a real share of the words, not one stray "a".
    return lang if score >= max(2, len(words) // 20) else "latin"


class MixEstimator:
    """Streams documents through a fixed-size reservoir of prefixes (seeded, so the
    estimate is reproducible) and classifies the sample at the end."""

    def __init__(self, max_docs: int = 1000, seed: int = 0) -> None:
        self.max_docs = max_docs
        self.seen = 0
        self._sample: list[str] = []
        self._rng = random.Random(seed)

    def add(self, text: str) -> None:
        self.seen += 1
        if len(self._sample) < self.max_docs:
            self._sample.append(text[:SAMPLE_CHARS])
        else:
            j = self._rng.randrange(self.seen)
            if j < self.max_docs:
                self._sample[j] = text[:SAMPLE_CHARS]

    def result(self) -> dict[str, float]:
        return mix_of(self._sample)


def mix_of(texts: Iterable[str]) -> dict[str, float]:
    """Label shares, largest first, rounded to 4 decimals."""
    labels = Counter(classify(t) for t in texts)
    total = sum(labels.values())
    if not total:
        return {}
    return {lang: round(n / total, 4) for lang, n in labels.most_common()}


def estimate_mix(texts: Iterable[str], *, max_docs: int = 1000) -> dict[str, float]:
    estimator = MixEstimator(max_docs=max_docs)
    for text in texts:
        estimator.add(text)
    return estimator.result()
