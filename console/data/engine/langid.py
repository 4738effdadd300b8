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

SAMPLE_CHARS = 2000  # characters of each sampled document that are looked at

_SCRIPTS: dict[str, re.Pattern[str]] = {
    "kana": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"),
    "hangul": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"),
    "cyrillic": re.compile(r"[\u0400-\u052f]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "greek": re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
}
_STOPWORDS = {
    "en": "the and of to in is that for it with as was on are be by this not or have from",
    "de": "der die und das ist nicht ein eine zu den von mit sich des auf für dem im auch",
    "fr": "le la les et des est une un du que pour dans qui pas sur au avec ce sont par",
    "es": "el la los las y que de en es una por con para del se no al lo como más",
}
_STOP = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")


def classify(text: str) -> str:
    """One label for one document (see the module docstring)."""
    sample = text[:SAMPLE_CHARS]
    counts = {script: len(rx.findall(sample)) for script, rx in _SCRIPTS.items()}
    if counts["kana"]:
        counts["han"] += counts["kana"]  # Japanese mixes kanji and kana
    best = max(counts, key=lambda s: counts[s])
    if counts[best] == 0:
        return "other"
    if best == "han":
        # A few kana among many kanji is still Japanese; Chinese has none.
        return "ja" if counts["kana"] * 20 >= counts["han"] else "zh"
    if best == "kana":
        return "ja"
    if best == "hangul":
        return "ko"
    if best != "latin":
        return best
    words = [w.lower() for w in _WORD.findall(sample)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
    lang = max(scores, key=lambda k: scores[k])
    # Require stopwords to be a real share of the words, not one stray "a".
    return lang if words and scores[lang] >= max(2, len(words) // 20) else "latin"


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
