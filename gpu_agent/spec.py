"""Typed job specs and records: the one definition of what travels between the
console and the agents (and what the console stores for a job).

Specs are ``@dataclass(kw_only=True)``. ``spec_from_dict`` validates a plain dict
(from JSON) against a spec class and reports every bad field at once, so a bad
config fails at submission with field errors instead of on a GPU node (R10).
This module imports only the standard library.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

T = TypeVar("T")


class SpecError(ValueError):
    """A spec that cannot run. ``errors`` maps field name to a list of messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


def _check_type(value: Any, annotation: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            ok, coerced = _check_type(value, arg)
            if ok:
                return True, coerced
        return False, value
    if annotation is type(None):
        return value is None, value
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if annotation is str:
        return isinstance(value, str), value
    if origin is list:
        (item_type,) = typing.get_args(annotation) or (Any,)
        if not isinstance(value, list):
            return False, value
        out = []
        for item in value:
            ok, coerced = _check_type(item, item_type)
            if not ok:
                return False, value
            out.append(coerced)
        return True, out
    if origin is dict or annotation is dict:
        return isinstance(value, dict), value
    if annotation is Any:
        return True, value
    return isinstance(value, annotation), value


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def spec_from_dict(cls: type[T], data: Any) -> T:
    """Build a spec from JSON-like data, or raise SpecError listing every problem."""
    if not isinstance(data, dict):
        raise SpecError({"params": ["must be an object"]})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in data:
        if name not in fields:
            errors.setdefault(name, []).append("unknown field")
    for name, spec_field in fields.items():
        if name not in data:
            no_default = (
                spec_field.default is dataclasses.MISSING
                and spec_field.default_factory is dataclasses.MISSING
            )
            if no_default:
                errors.setdefault(name, []).append("this field is required")
            continue
        ok, coerced = _check_type(data[name], hints[name])
        if not ok:
            errors.setdefault(name, []).append(f"must be {_type_name(hints[name])}")
        else:
            values[name] = coerced
    if errors:
        raise SpecError(errors)
    spec = cls(**values)
    check = getattr(spec, "check", None)
    if check is not None:
        problems = check()
        if problems:
            raise SpecError(problems)
    return spec


def spec_to_dict(spec: Any) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def spec_fields(cls: type) -> list[dict[str, Any]]:
    """Describe a spec's fields (name, type, default, help) for forms and the API."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = None if f.default is dataclasses.MISSING else f.default
        out.append(
            {
                "name": f.name,
                "type": _type_name(hints[f.name]),
                "default": default,
                "required": f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                "help": f.metadata.get("help", ""),
            }
        )
    return out


# ------------------------------------------------------------------ job specs


@dataclass(kw_only=True)
class DemoCountSpec:
    """A short synthetic workload: counts steps, reports progress and a metric per step,
    checkpoints after each step so a paused or requeued job resumes where it stopped."""

    KIND: ClassVar[str] = "demo.count"

    steps: int = field(default=20, metadata={"help": "Number of steps (1 to 100,000)."})
    step_seconds: float = field(default=0.5, metadata={"help": "Seconds per step (0 to 60)."})
    fail_at_step: int | None = field(
        default=None, metadata={"help": "Fail on purpose at this step (to see a failure)."}
    )

    def check(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not 1 <= self.steps <= 100_000:
            errors["steps"] = ["must be between 1 and 100000"]
        if not 0 <= self.step_seconds <= 60:
            errors["step_seconds"] = ["must be between 0 and 60"]
        if self.fail_at_step is not None and not 1 <= self.fail_at_step <= self.steps:
            errors["fail_at_step"] = ["must be between 1 and steps"]
        return errors
