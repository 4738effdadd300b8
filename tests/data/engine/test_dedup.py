# ruff: noqa: RUF001
"""Exact and near-duplicate removal, and the compact hash map behind them."""

from __future__ import annotations

import random

import numpy as np

from console.data.engine.clean import build_rule, validate_pipeline
from console.data.engine.rules._hashmap import U64Map
from console.data.engine.rules.near_dedup import MinHasher, optimal_bands
from tests.data.engine.synth import chinese_doc, english_doc


def rule(name: str, **params):
    return build_rule(validate_pipeline([{"rule": name, "params": params}])[0])


def run(r, texts, chunk=64):
    """Indices of the kept documents, feeding the rule in chunks like the pipeline."""
    kept = []
    for start in range(0, len(texts), chunk):
        batch = list(enumerate(texts))[start : start + chunk]
        for (index, _), (new, _) in zip(batch, r.apply_chunk(batch), strict=True):
            if new is not None:
                kept.append(index)
    return kept


def test_u64map_matches_a_dict_through_growth():
    rng = np.random.default_rng(0)
    m = U64Map(capacity=16)
    ref: dict[int, int] = {}
    keys = [*rng.integers(0, 2**64, size=5000, dtype=np.uint64).tolist(), 0, 1]
    for i, k in enumerate(keys[:3000]):
        assert m.setdefault(k, i) == ref.setdefault(k or 1, i)
    batch = np.array(keys[3000:], dtype=np.uint64)
    m.update_missing(batch, np.arange(3000, 3000 + len(batch)))
    for i, k in enumerate(keys[3000:], start=3000):
        ref.setdefault(k or 1, i)
    assert len(m) == len(ref)
    probe = np.array([*keys, 12345, 67890], dtype=np.uint64)
    expected = [ref.get(k or 1, -1) for k in probe.tolist()]
    assert m.get_many(probe).tolist() == expected
    assert [m.get(k) for k in probe.tolist()] == expected


def test_exact_dedup_keeps_first_and_reports_clusters():
    texts = ["alpha", "beta", "alpha", "gamma", "alpha", "beta", "Alpha ", "中文", "中文"]
    r = rule("exact_dedup")
    assert run(r, texts, chunk=3) == [0, 1, 3, 6, 7]
    summary = r.summary()
    assert summary["clusters"] == 3
    assert summary["duplicates"] == 4
    assert summary["largest_cluster"] == 3
    assert summary["examples"][0] == {"kept": 0, "duplicates": [{"index": 2}, {"index": 4}]}
    normalized = rule("exact_dedup", normalize=True)
    assert run(normalized, texts) == [0, 1, 3, 7]


def planted_corpus(seed: int = 3):
    """Distinct documents, then near-copies of some of them with minor edits (true
    Jaccard similarity of a copy with its original: about 0.9 and up)."""
    rng = random.Random(seed)
    base = [english_doc(rng, rng.randint(250, 500)) for _ in range(40)]
    base += [chinese_doc(rng, rng.randint(400, 800)) for _ in range(20)]
    copies = []
    for i in range(0, 40, 3):  # English: two words changed, a word appended
        words = base[i].split(" ")
        for _ in range(2):
            words[rng.randrange(len(words))] = "edited"
        copies.append((i, " ".join(words) + " Indeed."))
    for i in range(40, 60, 3):  # Chinese: three characters changed, punctuation changed
        chars = list(base[i])
        for _ in range(3):
            chars[rng.randrange(len(chars))] = "改"
        copies.append((i, "".join(chars).replace("，", "、", 1)))
    return base, copies


def test_near_dedup_finds_planted_near_duplicates_only():
    base, copies = planted_corpus()
    texts = base + [text for _, text in copies]
    r = rule("near_dedup")
    kept = run(r, texts)
    assert kept == list(range(len(base)))  # every original kept, every near-copy dropped
    summary = r.summary()
    assert summary["duplicates"] == len(copies)
    found = {
        d["index"]: example["kept"]
        for example in summary["examples"]
        for d in example["duplicates"]
    }
    for n, (original, _) in enumerate(copies):
        if len(base) + n in found:
            assert found[len(base) + n] == original
    sims = [d["similarity"] for e in summary["examples"] for d in e["duplicates"]]
    assert all(0.8 <= s <= 1.0 for s in sims)


def test_near_dedup_keeps_distinct_documents_on_one_topic():
    shared = "The court of appeal held that the contract was void. "
    texts = [
        shared + "The buyer had not been informed of the defect before signing.",
        shared + "The seller had disclosed every defect and the claim was dismissed.",
        shared + "Costs were awarded to the respondent in the amount claimed.",
        "法院认为合同无效，买方在签约前未被告知缺陷。",
        "法院认为合同有效，卖方已披露所有缺陷，驳回起诉。",
    ]
    assert run(rule("near_dedup", threshold=0.8), texts) == [0, 1, 2, 3, 4]


def test_near_dedup_threshold_is_honoured():
    rng = random.Random(5)
    a = english_doc(rng, 200)
    words = a.split(" ")
    half = " ".join(words[: len(words) // 2] + english_doc(rng, len(words) // 2).split(" "))
    assert run(rule("near_dedup", threshold=0.9), [a, half]) == [0, 1]
    assert run(rule("near_dedup", threshold=0.2), [a, half]) == [0]


def test_near_dedup_chunking_does_not_change_results():
    base, copies = planted_corpus(seed=11)
    texts = [text for pair in zip(base, base[::-1], strict=True) for text in pair]
    texts += [text for _, text in copies]
    results = {chunk: run(rule("near_dedup"), texts, chunk=chunk) for chunk in (1, 7, 1000)}
    assert results[1] == results[7] == results[1000]


def test_minhash_is_deterministic_and_handles_short_and_empty_text():
    texts = ["", "!!!", "one", "two words", "中", english_doc(random.Random(1), 50)]
    a = MinHasher(64, 5, True, 1).signatures(texts)
    b = MinHasher(64, 5, True, 1).signatures(texts)
    assert np.array_equal(a[0], b[0])
    assert a[1].tolist() == [False, False, True, True, True, True]
    assert not np.array_equal(a[0][2], a[0][3])


def test_optimal_bands_fit_the_permutations():
    for threshold in (0.5, 0.7, 0.8, 0.9):
        bands, rows = optimal_bands(threshold, 128)
        assert bands * rows <= 128
        # The S-curve's midpoint sits near the threshold.
        assert abs((1 / bands) ** (1 / rows) - threshold) < 0.1
