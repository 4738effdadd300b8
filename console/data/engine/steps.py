"""One chunk through a list of cleaning steps: what the pipeline (``clean.py``) runs in
this process and what each worker process (``workers.py``) runs on the chunks it is
sent. Its own module so that both import it and neither imports the other's caller."""

from __future__ import annotations

import time
from typing import Any

from console.data.engine.langid import script_label
from console.data.engine.report import step_part
from console.data.engine.rules import RULES
from console.data.engine.rules.base import Rule, utf8_len
from gpu_agent.spec import spec_from_dict

Chunk = list[tuple[int, str]]  # (index in the source version, text)


def build_rule(step: dict[str, Any]) -> Rule:
    rule = RULES[step["rule"]]
    return rule(spec_from_dict(rule.Params, step["params"]))


def apply_steps(rules: list[tuple[int, Rule]], chunk: Chunk) -> tuple[Chunk, dict[int, dict]]:
    """Run ``rules`` (step index, rule) over a chunk, step after step. Each document's
    script (``script_label``, as it came in) is counted in and out of every step, for
    the report's per-language drops."""
    parts: dict[int, dict[str, Any]] = {}
    label: dict[int, str] = {}  # filled as documents are first seen, after the rule ran
    for step_index, rule in rules:
        started = time.perf_counter()
        out: Chunk = []
        modified = removed = 0
        counters: dict[str, int] = {}
        languages: dict[str, list[int]] = {}
        for (index, text), (new, found) in zip(chunk, rule.apply_chunk(chunk), strict=True):
            for k, v in found.items():
                counters[k] = counters.get(k, 0) + v
            lang = label.get(index)
            if lang is None:
                lang = label[index] = script_label(text)
            seen = languages.setdefault(lang, [0, 0])
            seen[0] += 1
            if new is None:
                removed += utf8_len(text)
                continue
            seen[1] += 1
            if new is not text and new != text:
                modified += 1
                removed += utf8_len(text) - utf8_len(new)
            out.append((index, new))
        parts[step_index] = step_part(
            len(chunk),
            len(out),
            modified,
            removed,
            time.perf_counter() - started,
            counters,
            languages,
        )
        chunk = out
    return chunk, parts
