"""The cleaning report: what came in, what each rule did, what went out.

``ReportBuilder`` accumulates it while the pipeline runs; ``chart_series(report)``
turns a finished report into plain x/y series for the console's plotly charts.
Lengths are in characters; ``bytes_*`` are UTF-8 bytes of the texts.

A finished report (JSON-serialisable)::

    {"documents_in", "documents_out", "bytes_in", "bytes_out",
     "steps": [{"index", "rule", "label", "kind", "params", "documents_in",
                "documents_out", "dropped", "modified", "bytes_removed",
                "counters": {...}, "languages": {"zh": {"in", "dropped"}, ...},
                "seconds", "pii_type"?, "summary"?}],
     "pii": {"email": hits, ...},
     "warnings": [{"step", "rule", "label", "language", "name", "documents_in",
                   "dropped", "share", "message"}],
     "dedup": [{"index", "rule", "clusters", "duplicates", "largest_cluster",
                "examples": [{"kept": i, "duplicates": [{"index": j, ...}]}], ...}],
     "length_histogram": {"edges", "labels", "before", "after"},
     "language_mix": {...}, "version": {"documents", "bytes", "sha256", ...},
     "timings": {"total_s", "steps_s": {...}}, "workers": n, "workers_requested": n,
     "workers_note"?}

``languages`` counts documents per script label (``langid.script_label``: zh, ja,
ko, latin, ...; as each stage of steps first sees them); ``warnings`` lists each step
that removed more than half of one language's documents (LANGUAGE_WARN_SHARE).
``workers`` is how many worker processes ran the map rules (1: this process);
``workers_note`` is there only when fewer ran than were requested, and says why.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from typing import Any

from console.data.engine.langid import LABEL_NAMES

LENGTH_EDGES = (0, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def length_labels() -> list[str]:
    labels = [f"{_short(lo)}-{_short(hi - 1)}" for lo, hi in itertools.pairwise(LENGTH_EDGES)]
    return [*labels, f"{_short(LENGTH_EDGES[-1])}+"]


class LengthHistogram:
    def __init__(self) -> None:
        self.counts = [0] * len(LENGTH_EDGES)

    def add(self, chars: int) -> None:
        self.counts[bisect.bisect_right(LENGTH_EDGES, chars) - 1] += 1


class StepStats:
    def __init__(self) -> None:
        self.documents_in = 0
        self.documents_out = 0
        self.modified = 0
        self.bytes_removed = 0
        self.seconds = 0.0
        self.counters: Counter[str] = Counter()
        self.languages: dict[str, list[int]] = {}

    def merge(self, part: dict[str, Any]) -> None:
        self.documents_in += part["documents_in"]
        self.documents_out += part["documents_out"]
        self.modified += part["modified"]
        self.bytes_removed += part["bytes_removed"]
        self.seconds += part["seconds"]
        self.counters.update(part["counters"])
        for lang, (seen, kept) in part.get("languages", {}).items():
            total = self.languages.setdefault(lang, [0, 0])
            total[0] += seen
            total[1] += kept


def step_part(
    documents_in: int,
    documents_out: int,
    modified: int,
    bytes_removed: int,
    seconds: float,
    counters: dict[str, int],
    languages: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """One chunk's worth of a step's statistics, as sent back by a worker.
    ``languages``: script label -> [documents in, documents out]."""
    return {
        "documents_in": documents_in,
        "documents_out": documents_out,
        "modified": modified,
        "bytes_removed": bytes_removed,
        "seconds": seconds,
        "counters": counters,
        "languages": languages or {},
    }


# A step that removes more than this share of one language's documents is flagged in
# the report's warnings (when that language had at least LANGUAGE_WARN_MIN of them).
LANGUAGE_WARN_SHARE = 0.5
LANGUAGE_WARN_MIN = 3


def language_warnings(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step that removed most of one language's documents: {"step", "rule",
    "label", "language", "name", "documents_in", "dropped", "share", "message"}."""
    warnings = []
    for step in steps:
        for lang, counts in sorted(step.get("languages", {}).items()):
            seen, dropped = counts["in"], counts["dropped"]
            if lang == "other" or seen < LANGUAGE_WARN_MIN:
                continue
            if dropped / seen <= LANGUAGE_WARN_SHARE:
                continue
            name = LABEL_NAMES.get(lang, lang)
            share = dropped / seen
            warnings.append(
                {
                    "step": step["index"],
                    "rule": step["rule"],
                    "label": step["label"],
                    "language": lang,
                    "name": name,
                    "documents_in": seen,
                    "dropped": dropped,
                    "share": round(share, 4),
                    "message": f"step {step['index'] + 1} ({step['label']}) removed "
                    f"{dropped:,} of {seen:,} {name} documents ({share:.0%}): check its "
                    "settings suit that language",
                }
            )
    return warnings


class ReportBuilder:
    def __init__(self, steps: list[dict[str, Any]], rules: list[Any]) -> None:
        self.steps = steps
        self.rules = rules
        self.stats = [StepStats() for _ in steps]
        self.documents_in = 0
        self.documents_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.before = LengthHistogram()
        self.after = LengthHistogram()

    def add_input(self, text: str, nbytes: int) -> None:
        self.documents_in += 1
        self.bytes_in += nbytes
        self.before.add(len(text))

    def add_output(self, text: str, nbytes: int) -> None:
        self.documents_out += 1
        self.bytes_out += nbytes
        self.after.add(len(text))

    def merge(self, parts: dict[int, dict[str, Any]]) -> None:
        for index, part in parts.items():
            self.stats[index].merge(part)

    def finish(self, **extra: Any) -> dict[str, Any]:
        steps = []
        pii: Counter[str] = Counter()
        dedup = []
        for i, (step, rule, st) in enumerate(zip(self.steps, self.rules, self.stats, strict=True)):
            entry: dict[str, Any] = {
                "index": i,
                "rule": step["rule"],
                "label": rule.label,
                "kind": rule.kind,
                "params": step["params"],
                "documents_in": st.documents_in,
                "documents_out": st.documents_out,
                "dropped": st.documents_in - st.documents_out,
                "modified": st.modified,
                "bytes_removed": st.bytes_removed,
                "counters": dict(st.counters),
                "languages": {
                    lang: {"in": seen, "dropped": seen - kept}
                    for lang, (seen, kept) in sorted(st.languages.items())
                },
                "seconds": round(st.seconds, 3),
            }
            if rule.pii_type:
                entry["pii_type"] = rule.pii_type
                pii[rule.pii_type] += st.counters.get("hits", 0)
            summary = rule.summary()
            if summary:
                entry["summary"] = summary
            if rule.kind == "dedup":
                dedup.append({"index": i, "rule": step["rule"], **summary})
            steps.append(entry)
        return {
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "steps": steps,
            "pii": dict(pii),
            "dedup": dedup,
            "warnings": language_warnings(steps),
            "length_histogram": {
                "edges": list(LENGTH_EDGES),
                "labels": length_labels(),
                "before": self.before.counts,
                "after": self.after.counts,
            },
            **extra,
        }


def chart_series(report: dict[str, Any]) -> dict[str, Any]:
    """Plain series for charts: length histogram (before/after), documents left
    after each step (a funnel), what each rule dropped or modified, PII hits."""
    steps = report["steps"]
    names = [f"{s['index'] + 1}. {s['label']}" for s in steps]
    hist = report["length_histogram"]
    return {
        "length_histogram": {
            "x": hist["labels"],
            "before": hist["before"],
            "after": hist["after"],
        },
        "funnel": {
            "x": ["input", *names],
            "y": [report["documents_in"], *[s["documents_out"] for s in steps]],
        },
        "rules": {
            "x": names,
            "dropped": [s["dropped"] for s in steps],
            "modified": [s["modified"] for s in steps],
            "bytes_removed": [s["bytes_removed"] for s in steps],
        },
        "pii": {"x": list(report["pii"]), "y": list(report["pii"].values())},
        "language_mix": {
            "x": list(report.get("language_mix", {})),
            "y": list(report.get("language_mix", {}).values()),
        },
    }
