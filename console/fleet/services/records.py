"""The validation of an agent's record batch: every record checked before anything
is ingested, every bad one named."""

from __future__ import annotations

from typing import Any

from console.core.errors import InvalidInput
from gpu_agent.spec import (
    MAX_BATCH_RECORDS,
    METRIC_NAME_MAX,
    RECORD_TYPES,
    STACKS_MAX_PROCESSES,
    Record,
    SpecError,
    spec_from_dict,
)


class BatchInvalid(InvalidInput):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} record(s) are malformed; nothing was ingested.")
        self.errors = errors


def _number(value: Any) -> bool:
    # Bounded: float() of a huge JSON integer raises OverflowError (a 500, not a 400).
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= 1e300


def _check_data(record: Record) -> str:
    d = record.data
    if record.type == "metric":
        values = d.get("values")
        step = d.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or not -(2**63) <= step < 2**63:
            return "metric needs an integer step"
        if not isinstance(values, dict) or not values:
            return "metric needs a non-empty values object"
        for name, value in values.items():
            if (
                not isinstance(name, str)
                or not 0 < len(name) <= METRIC_NAME_MAX
                or not _number(value)
            ):
                return (
                    f"metric value {name!r} must be a number under a name of "
                    f"1-{METRIC_NAME_MAX} characters"
                )
    elif record.type == "log":
        if not isinstance(d.get("line"), str):
            return "log needs a line"
    elif record.type == "progress":
        if not _number(d.get("percent")):
            return "progress needs a numeric percent"
    elif record.type == "status":
        if d.get("state") not in {"running", "succeeded", "failed", "cancelled", "interrupted"}:
            return "status state must be running, succeeded, failed, cancelled or interrupted"
    elif record.type == "stacks":
        processes = d.get("processes")
        if not isinstance(d.get("reason"), str) or not isinstance(processes, list):
            return "stacks needs a reason and a processes list"
        if len(processes) > STACKS_MAX_PROCESSES:
            return f"stacks lists at most {STACKS_MAX_PROCESSES} processes"
        for proc in processes:
            if not (
                isinstance(proc, dict)
                and isinstance(proc.get("pid"), int)
                and isinstance(proc.get("label"), str)
                and isinstance(proc.get("text"), str)
            ):
                return "each stacks process needs an integer pid, a label and a text"
    elif record.type == "telemetry":
        gpus = d.get("gpus")
        if not isinstance(gpus, list):
            return "telemetry needs a gpus list"
        for gpu in gpus:
            if not isinstance(gpu, dict) or not isinstance(gpu.get("index"), int):
                return "each telemetry gpu needs an integer index"
            for key in ("util", "mem_used_mib", "power_w", "temp_c"):
                if key in gpu and gpu[key] is not None and not _number(gpu[key]):
                    return f"telemetry {key} must be a number"
    return ""


_RECORD_KEYS = frozenset(("job", "attempt", "seq", "type", "at", "data"))


def _record_fast(item: Any) -> Record | None:
    """The common case without the generic spec checker: an object with exactly
    Record's fields, each of the plain type it must have. None means "take the
    slow path", which names every problem of a bad record."""
    if type(item) is not dict or item.keys() != _RECORD_KEYS:
        return None
    job, attempt, seq, at = item["job"], item["attempt"], item["seq"], item["at"]
    if (
        (job is not None and type(job) is not int)
        or type(attempt) is not int
        or type(seq) is not int
        or type(item["type"]) is not str
        or type(item["data"]) is not dict
    ):
        return None
    if type(at) is not float:
        if type(at) is not int or not -(2**53) < at < 2**53:
            return None
        at = float(at)
    return Record(job=job, attempt=attempt, seq=seq, type=item["type"], at=at, data=item["data"])


def parse_batch(raw: Any) -> list[Record]:
    """Validate a whole batch; raise BatchInvalid naming every bad record."""
    if not isinstance(raw, dict) or not isinstance(raw.get("records"), list):
        raise BatchInvalid(
            [{"index": None, "seq": None, "error": 'body must be {"records": [...]}'}]
        )
    items = raw["records"]
    if len(items) > MAX_BATCH_RECORDS:
        raise BatchTooLarge(f"at most {MAX_BATCH_RECORDS} records per batch")
    records, errors = [], []
    for index, item in enumerate(items):
        seq = item.get("seq") if isinstance(item, dict) else None
        record = _record_fast(item)
        if record is None:
            try:
                record = spec_from_dict(Record, item)
            except SpecError as exc:
                errors.append({"index": index, "seq": seq, "error": str(exc)})
                continue
        problem = ""
        if record.type not in RECORD_TYPES:
            problem = f"unknown type {record.type!r}"
        elif record.seq < 1 or record.attempt < 0:
            problem = "seq must be >= 1 and attempt >= 0"
        elif record.seq >= 2**63 or record.attempt >= 2**31 or not 0 <= (record.job or 0) < 2**63:
            problem = "seq, attempt or job out of range"  # the columns' range: a 400, not a 500
        elif not 0 <= record.at < 2**34:
            problem = "at must be a Unix time in seconds"
        elif (record.job is None) != (record.type == "telemetry"):
            problem = "telemetry records have no job; every other record has one"
        else:
            problem = _check_data(record)
        if problem:
            errors.append({"index": index, "seq": seq, "error": problem})
        else:
            records.append(record)
    if errors:
        raise BatchInvalid(errors)
    return records


class BatchTooLarge(InvalidInput):
    status = 413
    code = "too_large"
