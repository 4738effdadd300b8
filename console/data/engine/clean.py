"""The cleaning pipeline: a source version in, a new version and a report out.

A pipeline is a list of steps ``{"rule": name, "params": {...}}`` run in order
(``validate_pipeline`` checks it and fills defaults). Documents stream through in
chunks (256 documents or 2 MiB): consecutive ``map`` rules run on a chunk together,
in worker processes when ``workers > 1`` (at most ``2 * workers`` chunks in flight
per stage, so memory stays bounded and output order is input order); ``dedup``
rules run in this process and see every document in order. Output is identical
for any number of workers.

Memory: the chunks in flight, plus the dedup state (see ``exact_dedup`` and
``near_dedup``: bytes per *document*, not per byte of text). The input is never
held whole. Write the output inside ``Storage.atomic_dir``: a cancelled or failed
run then leaves nothing behind:

    with storage.atomic_dir(key) as tmp:
        report = run_pipeline(src, tmp, steps, workers=4, progress=cb, should_stop=stop)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from console.data.engine.report import ReportBuilder
from console.data.engine.rules import RULES
from console.data.engine.rules.base import Rule, utf8_len
from console.data.engine.steps import Chunk, apply_steps, build_rule
from console.data.engine.versions import (
    VersionWriter,
    count_bytes,
    read_manifest,
    read_version_lines,
)
from console.data.engine.workers import WorkerFailed, WorkerPool
from gpu_agent.spec import SpecError, spec_fields, spec_from_dict

__all__ = [
    "RULES",
    "PipelineCancelled",
    "PipelineError",
    "WorkerFailed",
    "rule_catalog",
    "run_pipeline",
    "validate_pipeline",
]

log = logging.getLogger(__name__)

MAX_STEPS = 50
CHUNK_DOCS = 256
CHUNK_BYTES = 2 * 1024 * 1024


class PipelineError(ValueError):
    """A pipeline that cannot run. ``errors`` maps a step's index (as a string), or
    ``"pipeline"`` for the list as a whole, to ``{field: [messages]}``."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]) -> None:
        self.errors = errors
        super().__init__(
            "; ".join(
                f"step {k}: {field}: {', '.join(msgs)}"
                for k, fields in errors.items()
                for field, msgs in fields.items()
            )
        )


class PipelineCancelled(Exception):
    """``should_stop()`` returned true; nothing was written (the caller's atomic_dir
    removes the partial output)."""


def rule_catalog() -> list[dict[str, Any]]:
    """Every rule with its fields (name, type, default, help), for forms and the API."""
    return [
        {
            "name": name,
            "label": rule.label,
            "help": rule.help,
            "kind": rule.kind,
            "pii_type": rule.pii_type,
            "fields": spec_fields(rule.Params),
        }
        for name, rule in RULES.items()
    ]


def validate_pipeline(steps: Any) -> list[dict[str, Any]]:
    """Steps with every parameter filled in, or PipelineError with every problem."""
    if not isinstance(steps, list):
        raise PipelineError({"pipeline": {"steps": ["must be a list of steps"]}})
    errors: dict[str, dict[str, list[str]]] = {}
    if not steps:
        errors["pipeline"] = {"steps": ["add at least one rule"]}
    elif len(steps) > MAX_STEPS:
        errors["pipeline"] = {"steps": [f"at most {MAX_STEPS} steps"]}
    out = []
    for i, step in enumerate(steps):
        key = str(i)
        if not isinstance(step, dict):
            errors[key] = {"step": ["must be an object with 'rule' and 'params'"]}
            continue
        unknown = sorted(set(step) - {"rule", "params"})
        if unknown:
            errors[key] = {k: ["unknown field"] for k in unknown}
            continue
        name = step.get("rule")
        rule = RULES.get(name) if isinstance(name, str) else None
        if rule is None:
            errors[key] = {"rule": [f"unknown rule {name!r}; one of: {', '.join(RULES)}"]}
            continue
        try:
            params = spec_from_dict(rule.Params, step.get("params", {}))
        except SpecError as e:
            errors[key] = e.errors
            continue
        out.append({"rule": name, "params": dataclasses.asdict(params)})
    if errors:
        raise PipelineError(errors)
    return out


# ------------------------------------------------------------------ worker processes


def _start_pool(
    workers: int,
    stages: dict[int, list[tuple[int, dict[str, Any]]]],
    timeout_s: float,
) -> tuple[WorkerPool | None, str]:
    """Worker processes (see ``workers``: they start from any process, a Celery
    prefork child included), or None and the reason when they cannot start: the map
    rules then run here instead, with the same result."""
    try:
        return WorkerPool(workers, stages, timeout_s=timeout_s), ""
    except (OSError, ValueError, WorkerFailed) as e:
        log.warning("cleaning workers could not start, running in one process: %s", e)
        return None, f"worker processes could not start ({e}); ran in one process"


def _pool_stage(
    upstream: Iterator[Chunk],
    pool: WorkerPool,
    stage_id: int,
    report: ReportBuilder,
    window: int,
) -> Iterator[Chunk]:
    pending: deque[int] = deque()
    for chunk in upstream:
        pending.append(pool.submit(stage_id, chunk))
        if len(pending) >= window:
            out, parts = pool.result(pending.popleft())
            report.merge(parts)
            yield out
    while pending:
        out, parts = pool.result(pending.popleft())
        report.merge(parts)
        yield out


def _local_stage(
    upstream: Iterator[Chunk], rules: list[tuple[int, Rule]], report: ReportBuilder
) -> Iterator[Chunk]:
    for chunk in upstream:
        out, parts = apply_steps(rules, chunk)
        report.merge(parts)
        yield out


def _stages(steps: list[dict[str, Any]]) -> list[tuple[str, list[int]]]:
    """Consecutive map steps grouped; each dedup step a stage of its own."""
    stages: list[tuple[str, list[int]]] = []
    for i, step in enumerate(steps):
        kind = RULES[step["rule"]].kind
        if kind == "map" and stages and stages[-1][0] == "map":
            stages[-1][1].append(i)
        else:
            stages.append((kind, [i]))
    return stages


# ------------------------------------------------------------------ the pipeline


def run_pipeline(
    src_dir: Path,
    out_dir: Path,
    steps: list[dict],
    *,
    workers: int = 1,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    extra: dict[str, Any] | None = None,
    progress_every_s: float = 1.0,
    worker_timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Clean the version in ``src_dir`` into a new version in ``out_dir`` and return
    the report (also written to ``out_dir/report.json``). ``extra`` goes into the
    new version's manifest (lineage: ids of the source version, the job...).

    With ``workers > 1`` a worker that dies, or sends nothing for
    ``worker_timeout_s`` while its result is awaited, fails the run with
    ``WorkerFailed`` (a ``BrokenProcessPool``); nothing waits without a deadline.
    Workers that cannot start at all leave the run in one process: the report's
    ``workers`` is then 1 and ``workers_note`` says why."""
    steps = validate_pipeline(steps)
    started = time.perf_counter()
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    rules = [build_rule(step) for step in steps]
    report = ReportBuilder(steps, rules)
    stages = _stages(steps)
    total_bytes = max(count_bytes(src_dir), 1)
    parent = read_manifest(src_dir)
    read = 0

    def source() -> Iterator[Chunk]:
        nonlocal read
        chunk: Chunk = []
        size = 0
        for index, (text, nbytes) in enumerate(read_version_lines(src_dir)):
            report.add_input(text, utf8_len(text))
            chunk.append((index, text))
            size += nbytes
            read += nbytes
            if len(chunk) >= CHUNK_DOCS or size >= CHUNK_BYTES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    writer = VersionWriter(
        out_dir,
        extra={
            "pipeline": steps,
            "parent": {k: parent.get(k) for k in ("sha256", "documents", "bytes")},
            **(extra or {}),
        },
    )
    last_progress = time.monotonic()
    pool: WorkerPool | None = None
    note = ""
    try:
        if workers > 1 and any(kind == "map" for kind, _ in stages):
            pool, note = _start_pool(
                workers,
                {
                    sid: [(i, steps[i]) for i in idxs]
                    for sid, (kind, idxs) in enumerate(stages)
                    if kind == "map"
                },
                worker_timeout_s,
            )
        stream: Iterator[Chunk] = source()
        for sid, (kind, idxs) in enumerate(stages):
            if kind == "map" and pool is not None:
                stream = _pool_stage(stream, pool, sid, report, window=2 * workers)
            else:
                stream = _local_stage(stream, [(i, rules[i]) for i in idxs], report)
        for chunk in stream:
            if should_stop is not None and should_stop():
                raise PipelineCancelled("the cleaning run was stopped")
            for _, text in chunk:
                report.add_output(text, writer.add(text))
            if progress is not None and time.monotonic() - last_progress >= progress_every_s:
                last_progress = time.monotonic()
                progress(
                    min(read / total_bytes, 1.0),
                    f"{report.documents_in:,} documents read, {report.documents_out:,} kept",
                )
        version = writer.close()
    except BaseException:
        writer.abort()
        if pool is not None:  # results still due are of no use now
            pool.close(kill=True)
        raise
    if pool is not None:  # every result is in: the workers exit at once
        pool.close()
    result = report.finish(
        language_mix=version.language_mix,
        version={
            "documents": version.documents,
            "bytes": version.bytes,
            "text_bytes": version.text_bytes,
            "sha256": version.sha256,
        },
        timings={
            "total_s": round(time.perf_counter() - started, 3),
            "steps_s": {
                f"{i}:{s['rule']}": round(st.seconds, 3)
                for i, (s, st) in enumerate(zip(steps, report.stats, strict=True))
            },
        },
        workers=workers if pool is not None else 1,
        workers_requested=workers,
        **({"workers_note": note} if note else {}),
    )
    (out_dir / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    if progress is not None:
        progress(1.0, f"{report.documents_out:,} of {report.documents_in:,} documents kept")
    return result
