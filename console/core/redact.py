"""What members are shown of the server's internals (issue 14, item 6).

- Paths: storage is the console's business. A path under a storage root is shown
  relative to it: under FORGE_DATA_DIR as the key there ("corpora/job-3"), under
  FORGE_RUNS_DIR and FORGE_MODELS_DIR as "runs/…" and "models/…" (where they sit
  inside FORGE_DATA_DIR, that is the same key), under FORGE_DATA_IMPORT_ROOT as
  "imports/…". The API renders every answer through ``scrub_paths``; pages use the
  ``storage_paths`` filter.
- Failures: a job's error is its message. A Python traceback is reduced to its last
  line (the exception and its text) after what preceded it ("exit code 1: …"); the
  whole traceback stays on the job's log.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

TRACEBACK = "Traceback (most recent call last):"
# What may follow a root in text without continuing its name: a separator, quote,
# whitespace, punctuation or the end.
_END = r"(?=$|[\s'\"`,;:)\]}>])"


def _root_labels() -> list[tuple[str, str]]:
    """(absolute root, label), the longest root first so the most specific wins."""
    roots = [
        (settings.FORGE_RUNS_DIR, "runs"),
        (settings.FORGE_MODELS_DIR, "models"),
        (settings.FORGE_DATA_DIR, ""),
        (getattr(settings, "FORGE_DATA_IMPORT_ROOT", None), "imports"),
    ]
    pairs: dict[str, str] = {}
    for root, label in roots:
        if not root:
            continue
        for form in (str(Path(root)), str(Path(root).resolve())):
            if len(form) > 1 and form not in pairs:
                pairs[form] = label
    return sorted(pairs.items(), key=lambda item: -len(item[0]))


@lru_cache(maxsize=16)
def _patterns(roots: tuple[tuple[str, str], ...]) -> list[tuple[str, re.Pattern[str], str]]:
    return [
        (root, re.compile(re.escape(root) + r"(/|" + _END + ")"), label) for root, label in roots
    ]


def _relative(text: str, patterns: list[tuple[str, re.Pattern[str], str]]) -> str:
    for root, pattern, label in patterns:
        if root not in text:
            continue

        def swap(match: re.Match[str], label: str = label) -> str:
            if match.group(1) == "/":
                return f"{label}/" if label else ""
            return label or "."

        text = pattern.sub(swap, text)
    return text


def storage_relative(text: str) -> str:
    """``text`` with every absolute storage path in it made storage-relative."""
    if not isinstance(text, str) or "/" not in text:
        return text
    return _relative(text, _patterns(tuple(_root_labels())))


def scrub_paths(data: Any) -> Any:
    """A copy of JSON-like ``data`` (dicts, lists, strings) whose strings carry no
    absolute storage path (see storage_relative)."""
    patterns = _patterns(tuple(_root_labels()))
    roots = [root for root, _, _ in patterns]

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _relative(value, patterns) if any(r in value for r in roots) else value
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(data)


def failure_parts(reason: str) -> tuple[str, str]:
    """(message, traceback) of a failure's reason: the message is one line, what came
    before the traceback then its last line ("exit code 1: ValueError: boom"); the
    traceback is empty when the reason had none (the message is then the reason)."""
    text = reason or ""
    head, found, rest = text.partition(TRACEBACK)
    if not found:
        return text.strip(), ""
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    last = lines[-1] if lines else "(no message)"
    head = " ".join(head.split())
    return (f"{head} {last}" if head else last), text


def error_message(reason: str) -> str:
    """A failure's message as members see it: one line for a traceback, storage paths
    relative."""
    return storage_relative(failure_parts(reason)[0])
