# ruff: noqa: RUF001
"""A synthetic corpus for memory and speed checks: English-like and Chinese
documents with URLs, PII, boilerplate lines, exact copies and near-copies."""

from __future__ import annotations

import json
import random
from pathlib import Path

_WORDS = " ".join(
    [
        "the of and to in is was for on that with as by at from his her an were are which",
        "this be or has had not but their its they also first one new two after who been more",
        "than court ruling appeal patient dose guideline filing revenue quarter market company",
        "model data system training language study results method analysis report section",
        "table figure government policy national research university hospital clinical trial",
        "treatment risk",
    ]
).split(" ")
_HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工"
    "也能下过子说产种面而方后多定行学法所民得经"
)


def english_doc(rng: random.Random, words: int) -> str:
    paras = []
    left = words
    while left > 0:
        n = min(left, rng.randint(40, 120))
        left -= n
        paras.append(" ".join(rng.choices(_WORDS, k=n)).capitalize() + ".")
    return "\n\n".join(paras)


def chinese_doc(rng: random.Random, chars: int) -> str:
    out = []
    for i in range(chars):
        out.append(rng.choice(_HAN))
        if i % 23 == 22:
            out.append("，" if i % 3 else "。")
    return "".join(out)


def _extras(rng: random.Random) -> str:
    options = [
        "Contact: jane.doe{n}@example.org",
        "Visit https://example.com/page/{n}?ref=abc for more",
        "Call +44 20 7946 {n:04d}",
        "Card 4111-1111-1111-1111 on file",
        "Server 10.0.{m}.{m} responded",
        "IBAN DE89 3704 0044 0532 0130 00",
        "电话 138{n:08d}",
    ]
    n = rng.randrange(10_000)
    m = rng.randrange(256)
    return rng.choice(options).format(n=n, m=m)


def write_corpus(path: Path, target_bytes: int, seed: int = 7) -> dict[str, int]:
    """Write a JSONL corpus of about ``target_bytes``; returns counts of what went in."""
    rng = random.Random(seed)
    written = docs = copies = 0
    recent: list[str] = []
    with path.open("w", encoding="utf-8") as f:
        while written < target_bytes:
            roll = rng.random()
            if recent and roll < 0.05:
                text = rng.choice(recent)  # an exact copy
                copies += 1
            elif recent and roll < 0.08:
                words = rng.choice(recent).split(" ")  # a near copy: one word changed
                words[rng.randrange(len(words))] = "changed"
                text = " ".join(words)
                copies += 1
            elif roll < 0.25:
                text = chinese_doc(rng, rng.randint(200, 1500))
            else:
                text = english_doc(rng, rng.randint(100, 700))
            if rng.random() < 0.3:
                text += "\n" + _extras(rng)
            if len(recent) < 50:
                recent.append(text)
            else:
                recent[rng.randrange(50)] = text
            line = json.dumps({"text": text}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            docs += 1
    return {"documents": docs, "bytes": written, "copies": copies}


FULL_PIPELINE = [
    {"rule": "remove_urls"},
    {"rule": "drop_special_chars"},
    {"rule": "normalize_whitespace"},
    {"rule": "length_filter", "params": {"min_chars": 50}},
    {"rule": "quality_filter"},
    {"rule": "mask_email"},
    {"rule": "mask_credit_card"},
    {"rule": "mask_iban"},
    {"rule": "mask_cn_resident_id"},
    {"rule": "mask_ip"},
    {"rule": "mask_phone"},
    {"rule": "exact_dedup"},
    {"rule": "near_dedup"},
]


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return chinese_doc(rng, rng.randint(20, 60)) + "。"
    words = rng.choices(_WORDS, k=rng.randint(8, 25))
    return " ".join(words).capitalize() + "."


def write_fast_corpus(path: Path, target_bytes: int, seed: int = 7) -> dict[str, int]:
    """A large corpus quickly: documents of 10-40 sentences drawn from a pool of
    20,000, so documents are distinct (near-dedup keeps nearly all of them, the
    worst case for its memory) and generation costs little next to cleaning."""
    rng = random.Random(seed)
    pool = [_sentence(rng) for _ in range(20_000)]
    written = docs = 0
    with path.open("w", encoding="utf-8") as f:
        while written < target_bytes:
            text = " ".join(rng.choices(pool, k=rng.randint(10, 40)))
            if rng.random() < 0.3:
                text += "\n" + _extras(rng)
            line = json.dumps({"text": text}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            docs += 1
    return {"documents": docs, "bytes": written}
