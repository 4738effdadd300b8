"""Which command runs for a job kind on a node.

A kind maps to an argv builder, given the launch and the path of the JSON file the
supervisor wrote (the LaunchSpec as a dict, its "checkpoint" included), and
optionally to a validator of the kind's own spec, so a bad config fails at once
with its reason instead of as a crashed process (R10).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_agent.spec import DemoNodeSpec, LaunchSpec, spec_from_dict


@dataclass(frozen=True)
class Kind:
    argv: Callable[[LaunchSpec, Path], list[str]]
    validate: Callable[[dict[str, Any]], object] | None = None  # raises SpecError


def _python_module(module: str) -> Callable[[LaunchSpec, Path], list[str]]:
    def build(launch: LaunchSpec, spec_path: Path) -> list[str]:
        return [sys.executable, "-m", module, "--spec", str(spec_path)]

    return build


KINDS: dict[str, Kind] = {
    DemoNodeSpec.KIND: Kind(
        argv=_python_module("gpu_agent.workloads.demo"),
        validate=lambda spec: spec_from_dict(DemoNodeSpec, spec),
    ),
}


def register(name: str, kind: Kind) -> None:
    KINDS[name] = kind
