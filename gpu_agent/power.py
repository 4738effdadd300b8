"""GPU power policy: a per-GPU power limit set through NVML, only when an admin
enabled it on this node in the console (off by default).

    off       nothing is read or written, except once after enforce: the agent that
              set limits restores each GPU's default limit ("restored").
    dry_run   limits are read, never written; the report says what enforce would
              do ("would_set") or that nothing would change ("none").
    enforce   the target, clamped to the GPU's min/max constraints, is written where
              the current limit differs ("set"); else "none".

The policy ({mode, watts}) arrives in every heartbeat reply; the report of its last
application goes back with the next heartbeat and is shown on the fleet page. NVML
errors (no permission, not supported) are reported per GPU and never stop the agent.

The NVML module is injectable (``nvml_factory``), so tests pass a fake one and no
test touches a real GPU. Whether this agent changed a limit is kept in
``<work dir>/power_cap.json``, so a restarted agent still restores the default.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpu_agent.spec import HeartbeatReply

log = logging.getLogger("gpu_agent.power")

MODES = ("off", "dry_run", "enforce")


@dataclass(kw_only=True)
class PowerPolicy:
    mode: str = "off"
    watts: int | None = None  # per GPU

    @classmethod
    def from_wire(cls, data: Any) -> PowerPolicy | None:
        """The policy in a heartbeat reply; None when absent or malformed (do nothing)."""
        if not isinstance(data, dict) or data.get("mode") not in MODES:
            return None
        watts = data.get("watts")
        if watts is not None and (
            not isinstance(watts, int) or isinstance(watts, bool) or watts <= 0
        ):
            return None
        if data["mode"] != "off" and watts is None:
            return None
        return cls(mode=data["mode"], watts=watts)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "watts": self.watts}


@dataclass(kw_only=True)
class PowerHeartbeatReply(HeartbeatReply):
    """The heartbeat reply with the node's power policy (older consoles send none)."""

    power: dict[str, Any] = field(default_factory=dict)


def _import_pynvml() -> Any:
    import pynvml

    return pynvml


def _error_text(nvml: Any, exc: BaseException) -> str:
    if nvml is not None and isinstance(exc, getattr(nvml, "NVMLError", ())):
        return f"NVML: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else round(milliwatts / 1000.0, 1)


class PowerCap:
    """Applies a PowerPolicy to every GPU of the node and keeps the last report."""

    def __init__(
        self,
        *,
        nvml_factory: Callable[[], Any] = _import_pynvml,
        state_path: Path | None = None,
    ) -> None:
        self._factory = nvml_factory
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._state_path = state_path
        self._enforced = self._load_state()
        self._report: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ state

    def _load_state(self) -> bool:
        if self._state_path is None:
            return False
        try:
            return bool(json.loads(self._state_path.read_text()).get("enforced"))
        except (OSError, ValueError, AttributeError):
            return False

    def _save_state(self, enforced: bool) -> None:
        self._enforced = enforced
        if self._state_path is None:
            return
        try:
            tmp = self._state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"enforced": enforced}))
            tmp.replace(self._state_path)
        except OSError as exc:
            log.warning("cannot save power cap state to %s: %s", self._state_path, exc)

    # ------------------------------------------------------------ NVML

    def _open(self) -> str:
        """Initialise NVML and list the GPUs; an error text, or "" when ready."""
        if self._nvml is not None:
            return ""
        try:
            nvml = self._factory()
        except ImportError:
            return "nvidia-ml-py is not installed"
        try:
            nvml.nvmlInit()
        except Exception as exc:
            return f"no NVIDIA driver: {_error_text(nvml, exc)}"
        try:
            count = nvml.nvmlDeviceGetCount()
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:
            with contextlib.suppress(Exception):
                nvml.nvmlShutdown()
            self._handles = []
            return f"cannot list GPUs: {_error_text(nvml, exc)}"
        self._nvml = nvml
        return ""

    def close(self) -> None:
        with self._lock:
            if self._nvml is not None:
                with contextlib.suppress(Exception):
                    self._nvml.nvmlShutdown()
            self._nvml = None
            self._handles = []

    # ------------------------------------------------------------ policy

    def report(self) -> dict[str, Any] | None:
        """The last application's report, for the next heartbeat (None before the first)."""
        return self._report

    def apply(self, policy: PowerPolicy) -> dict[str, Any]:
        """Apply the policy to every GPU; return (and keep) the report."""
        with self._lock:
            report = self._apply(policy)
        self._report = report
        return report

    def _apply(self, policy: PowerPolicy) -> dict[str, Any]:
        report: dict[str, Any] = {
            "mode": policy.mode,
            "watts": policy.watts,
            "error": "",
            "gpus": {},
        }
        restoring = policy.mode == "off" and self._enforced
        if policy.mode == "off" and not restoring:
            return report  # off: NVML is not even opened
        error = self._open()
        if error:
            report["error"] = error
            return report
        all_ok = True
        for index, handle in enumerate(self._handles):
            entry = self._apply_gpu(policy, handle, restoring)
            if entry["action"] == "error":
                all_ok = False
                log.warning("power cap on GPU %d: %s", index, entry["error"])
            elif entry["action"] in ("set", "restored"):
                log.info(
                    "power cap: GPU %d %s from %s W to %s W",
                    index,
                    entry["action"],
                    entry["previous_limit_w"],
                    entry["current_limit_w"],
                )
            report["gpus"][str(index)] = entry
        if policy.mode == "enforce" and any(
            g["action"] in ("set", "none") for g in report["gpus"].values()
        ):
            if not self._enforced:
                self._save_state(True)
        elif restoring and all_ok:
            self._save_state(False)  # restored once; off means hands off from now on
        return report

    def _apply_gpu(self, policy: PowerPolicy, handle: Any, restoring: bool) -> dict[str, Any]:
        nvml = self._nvml
        entry: dict[str, Any] = {
            "current_limit_w": None,
            "previous_limit_w": None,
            "default_limit_w": None,
            "min_w": None,
            "max_w": None,
            "target_w": None,
            "action": "none",
            "error": "",
        }
        try:
            low_mw, high_mw = nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)
            default_mw = nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle)
            current_mw = nvml.nvmlDeviceGetPowerManagementLimit(handle)
        except Exception as exc:
            entry.update(action="error", error=_error_text(nvml, exc))
            return entry
        if restoring:
            target_mw = int(default_mw)
        else:
            target_mw = max(int(low_mw), min(int(high_mw), int(policy.watts or 0) * 1000))
        entry.update(
            current_limit_w=_watts(current_mw),
            previous_limit_w=_watts(current_mw),
            default_limit_w=_watts(default_mw),
            min_w=_watts(low_mw),
            max_w=_watts(high_mw),
            target_w=_watts(target_mw),
        )
        if int(current_mw) == target_mw:
            return entry
        if policy.mode == "dry_run":
            entry["action"] = "would_set"
            return entry
        try:
            nvml.nvmlDeviceSetPowerManagementLimit(handle, target_mw)
        except Exception as exc:
            entry.update(action="error", error=_error_text(nvml, exc))
            return entry
        entry.update(action="restored" if restoring else "set", current_limit_w=_watts(target_mw))
        return entry
