"""What a review item's check shows, whatever shape its stored result has.

``ReviewItem.check_result`` is a JSON dict written by three paths: an automated check
(``checks.probes.run_check`` plus job, round, run_by and at), a result recorded by hand
(``{"manual": True, "note", "by", "at", "overrides"}``, older rows just ``{"manual":
True, "note"}`` or other keys), and whatever older releases or the admin left there.
``check_view`` turns any of these into plain values for templates
(templates/governance/_check_result.html, used by the review page and usable by the
admin): a missing key, a value of the wrong type or an unknown shape never raises; the
keys it does not know are listed as they are. Nothing here reads beyond the item and
its check job, and nothing writes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

DIRECTION_TEXT = {"max": "at most", "min": "at least"}
MAX_ROWS = 60
MAX_TEXT = 2000
# Keys shown in their own place; any other key of a result is listed as it is.
KNOWN = frozenset(
    {
        "kind",
        "metric",
        "value",
        "threshold",
        "direction",
        "passed",
        "method",
        "limits",
        "details",
        "samples",
        "generations",
        "new_tokens",
        "seconds",
        "params",
        "job",
        "round",
        "run_by",
        "at",
        "manual",
        "note",
        "by",
        "overrides",
    }
)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = _compact(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def fmt(value: Any) -> str:
    """A number as a reader wants it (4 decimals at most, no trailing zeros; very small
    values in 3 significant digits); anything else as compact text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value):
            return str(int(value)) if abs(value) < 1e15 else f"{value:g}"
        if abs(value) < 0.001:
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return _text(value, 300)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, str):
        return value
    return fmt(value)


def when(value: Any) -> str:
    """An ISO time as "YYYY-MM-DD HH:MM UTC" (other text as it is)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return _text(value, 40)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


def _rows(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict flattened to (dotted key, text) rows."""
    if not isinstance(value, dict):
        return [(prefix or "value", fmt(value))] if value not in (None, "", [], {}) else []
    rows: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            rows += _rows(item, name)
        else:
            rows.append((name, fmt(item) if not isinstance(item, list) else _compact(item)))
        if len(rows) >= MAX_ROWS:
            break
    return rows[:MAX_ROWS]


def _bias_table(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The bias probe's per-attribute figures: DPD, favourable rate and mean sentiment
    per value of the attribute."""
    attributes = details.get("attributes")
    if not isinstance(attributes, dict):
        return []
    table = []
    for name, figures in attributes.items():
        if not isinstance(figures, dict):
            table.append({"attribute": str(name), "dpd": fmt(figures), "groups": []})
            continue
        rates = figures.get("favourable_rate")
        moods = figures.get("mean_sentiment")
        rates = rates if isinstance(rates, dict) else {}
        moods = moods if isinstance(moods, dict) else {}
        groups = [
            {
                "value": str(group),
                "rate": fmt(rates[group]) if group in rates else "—",
                "sentiment": fmt(moods[group]) if group in moods else "—",
            }
            for group in list(dict.fromkeys([*rates, *moods]))[:MAX_ROWS]
        ]
        table.append(
            {
                "attribute": str(name),
                "dpd": fmt(figures.get("demographic_parity_difference", "—")),
                "worst": str(name) == str(details.get("worst_attribute", "")),
                "groups": groups,
            }
        )
    return table[:MAX_ROWS]


def _sample(sample: Any) -> dict[str, Any]:
    """One example generation, of any check: prompt or question, what came out, and the
    check's notes on it (favourable, score and terms, PII found, the expected answer)."""
    if not isinstance(sample, dict):
        return {"prompt": "", "question": "", "expected": "", "output": _text(sample), "notes": []}
    notes = []
    if "favourable" in sample:
        notes.append("favourable" if sample.get("favourable") else "not favourable")
    if _number(sample.get("score")) is not None:
        notes.append(f"toxicity score {fmt(_number(sample['score']))}")
    if sample.get("terms"):
        notes.append("terms: " + _text(sample["terms"], 300))
    if sample.get("found"):
        notes.append("found: " + _text(sample["found"], 300))
    for key, value in sample.items():
        if key not in {"prompt", "question", "expected", "text", "answer", "favourable",
                       "score", "terms", "found"}:  # fmt: skip
            notes.append(f"{key}: {_text(value, 300)}")
    output = sample.get("text")
    if output is None:
        output = sample.get("answer")
    return {
        "prompt": _text(sample.get("prompt")),
        "question": _text(sample.get("question")),
        "expected": _text(sample.get("expected")),
        "output": _text(output),
        "notes": notes,
    }


def automated_view(result: dict[str, Any]) -> dict[str, Any]:
    """An automated check's result (or the one a manual result overrode)."""
    details = result.get("details")
    value = _number(result.get("value"))
    threshold = _number(result.get("threshold"))
    direction = result.get("direction")
    passed = result.get("passed")
    samples = result.get("samples")
    params = result.get("params")
    return {
        "kind": _text(result.get("kind"), 50),
        "metric": _text(result.get("metric"), 300) or "value",
        "value": fmt(value) if value is not None else _text(result.get("value"), 300) or "—",
        "threshold": fmt(threshold) if threshold is not None else "",
        "direction": DIRECTION_TEXT.get(direction, "") if isinstance(direction, str) else "",
        "passed": passed if isinstance(passed, bool) else None,
        "generations": _int(result.get("generations")),
        "seconds": fmt(_number(result.get("seconds"))) if _number(result.get("seconds")) else "",
        "round": _int(result.get("round")),
        "job": _int(result.get("job")),
        "run_by": _text(result.get("run_by"), 150),
        "at": when(result.get("at")),
        "method": _text(result.get("method")),
        "limits": _text(result.get("limits")),
        "bias": _bias_table(details) if isinstance(details, dict) else [],
        "details": _rows(
            {k: v for k, v in details.items() if k not in ("attributes", "worst_attribute")}
            if isinstance(details, dict) and "attributes" in details
            else details
        ),
        "worst_attribute": _text(details.get("worst_attribute"), 100)
        if isinstance(details, dict)
        else "",
        "samples": [_sample(s) for s in samples[:MAX_ROWS]] if isinstance(samples, list) else [],
        "params": _rows(params) if isinstance(params, dict) else [],
        "other": _rows({k: v for k, v in result.items() if k not in KNOWN}),
    }


def _is_automated(result: Any) -> bool:
    return isinstance(result, dict) and not result.get("manual") and "value" in result


def check_view(item: Any) -> dict[str, Any]:
    """Everything the check column of a review item shows (see the module docstring):
    ``verdict`` (True, False, None), ``kind`` ("automated", "manual", "other" or "none"),
    ``auto`` (an automated result), ``manual`` (note, by, at, and ``overrides``: the
    automated result it replaced, if any), ``job`` (the last check job's state)."""
    result = getattr(item, "check_result", None)
    passed = getattr(item, "passed", None)
    view: dict[str, Any] = {
        "verdict": passed if isinstance(passed, bool) else None,
        "kind": "none",
        "auto": None,
        "manual": None,
        "other": [],
        "job": _job_view(item),
    }
    if isinstance(result, dict) and result.get("manual"):
        checked_by = getattr(item, "checked_by", None)
        overrides = result.get("overrides")
        if overrides is None:  # recorded before results kept what they replaced
            overrides = _replaced_job_result(item)
        view["kind"] = "manual"
        view["manual"] = {
            "note": _text(result.get("note")),
            "by": _text(result.get("by"), 150) or getattr(checked_by, "username", "") or "",
            "at": when(result.get("at")),
            "overrides": automated_view(overrides) if _is_automated(overrides) else None,
            "other": _rows({k: v for k, v in result.items() if k not in KNOWN}),
        }
    elif _is_automated(result):
        view["kind"] = "automated"
        view["auto"] = automated_view(result)
    elif result not in (None, {}, [], ""):
        view["kind"] = "other"
        view["other"] = _rows(result) if isinstance(result, dict) else [("value", _text(result))]
    return view


def _replaced_job_result(item: Any) -> dict[str, Any] | None:
    """The result of the item's last check job, when that job succeeded: a result
    recorded by hand later replaced it (a finished check overwrites a manual result)."""
    job = getattr(item, "check_job", None)
    if job is None or getattr(job, "state", "") != "succeeded":
        return None
    result = getattr(job, "result", None)
    check = result.get("check") if isinstance(result, dict) else None
    if not _is_automated(check):
        return None
    return {**check, "job": getattr(job, "pk", None)}


def _job_view(item: Any) -> dict[str, Any] | None:
    job = getattr(item, "check_job", None)
    if job is None:
        return None
    state = str(getattr(job, "state", "") or "")
    terminal = state in ("succeeded", "failed", "cancelled")
    return {
        "id": getattr(job, "pk", None),
        "state": state,
        "running": not terminal,
        "progress": _int(getattr(job, "progress", 0)) or 0,
        "message": _text(getattr(job, "progress_message", ""), 300),
        "error": _text(getattr(job, "error", ""), 300),
    }
