"""A fake of the few pynvml functions the agent uses (inventory, telemetry, power cap),
recording every call. Never a real GPU in tests.

In-process: ``FakeNvml(gpus=[...])`` is what ``PowerCap(nvml_factory=lambda: fake)``
gets. In a real agent process: the directory ``tests/agent/fake_pynvml`` on
PYTHONPATH shadows pynvml with a module backed by a JSON state file (env
FAKE_NVML_STATE), so the test reads the limits the agent set from that file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_TEMPERATURE_GPU = 0

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
}


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML error {self.value}")


@dataclass
class _Memory:
    total: int
    used: int
    free: int


@dataclass
class _Util:
    gpu: int
    memory: int


@dataclass(kw_only=True)
class FakeGpu:
    limit_mw: int = 700_000
    default_mw: int = 700_000
    min_mw: int = 200_000
    max_mw: int = 700_000
    name: str = "NVIDIA H200 (fake)"
    memory_mib: int = 143_771
    set_error: int | None = None  # an NVML error code the setter raises
    read_error: int | None = None  # ... and the limit readers

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FakeNvml:
    """The pynvml functions as methods; ``calls`` lists (name, args) in order."""

    gpus: list[FakeGpu] = field(default_factory=lambda: [FakeGpu()])
    calls: list[tuple[str, tuple]] = field(default_factory=list)
    init_error: int | None = None

    NVMLError = NVMLError
    NVML_ERROR_NO_PERMISSION = NVML_ERROR_NO_PERMISSION
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def setter_calls(self) -> list[tuple]:
        return [args for name, args in self.calls if name == "nvmlDeviceSetPowerManagementLimit"]

    def _gpu(self, handle: int, reading: bool = True) -> FakeGpu:
        gpu = self.gpus[handle]
        if reading and gpu.read_error is not None:
            raise NVMLError(gpu.read_error)
        return gpu

    # ---------------------------------------------------------------- lifecycle

    def nvmlInit(self) -> None:
        self._call("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")

    def nvmlSystemGetDriverVersion(self) -> str:
        self._call("nvmlSystemGetDriverVersion")
        return "999.99-fake"

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._call("nvmlDeviceGetHandleByIndex", index)
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return index

    # ---------------------------------------------------------------- inventory, telemetry

    def nvmlDeviceGetName(self, handle: int) -> str:
        self._call("nvmlDeviceGetName", handle)
        return self.gpus[handle].name

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:
        self._call("nvmlDeviceGetMemoryInfo", handle)
        total = self.gpus[handle].memory_mib * 1024 * 1024
        return _Memory(total=total, used=1024 * 1024 * 1024, free=total - 1024 * 1024 * 1024)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> _Util:
        self._call("nvmlDeviceGetUtilizationRates", handle)
        return _Util(gpu=0, memory=0)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        self._call("nvmlDeviceGetPowerUsage", handle)
        return 80_000

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        self._call("nvmlDeviceGetTemperature", handle, sensor)
        return 35

    # ---------------------------------------------------------------- power management

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: int) -> list[int]:
        self._call("nvmlDeviceGetPowerManagementLimitConstraints", handle)
        gpu = self._gpu(handle)
        return [gpu.min_mw, gpu.max_mw]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: int) -> int:
        self._call("nvmlDeviceGetPowerManagementDefaultLimit", handle)
        return self._gpu(handle).default_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: int) -> int:
        self._call("nvmlDeviceGetPowerManagementLimit", handle)
        return self._gpu(handle).limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle: int, limit: int) -> None:
        self._call("nvmlDeviceSetPowerManagementLimit", handle, limit)
        gpu = self._gpu(handle, reading=False)
        if gpu.set_error is not None:
            raise NVMLError(gpu.set_error)
        if not gpu.min_mw <= limit <= gpu.max_mw:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu.limit_mw = limit


# -------------------------------------------------------------------- file-backed (processes)


def write_state(path: Path, gpus: list[FakeGpu]) -> None:
    path.write_text(json.dumps({"gpus": [gpu.as_dict() for gpu in gpus], "sets": []}))


def read_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


class FileBackedNvml(FakeNvml):
    """A FakeNvml whose GPUs live in a JSON file; every setter call is appended there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        state = read_state(path)
        super().__init__(gpus=[FakeGpu(**g) for g in state["gpus"]])

    def nvmlDeviceSetPowerManagementLimit(self, handle: int, limit: int) -> None:
        state = read_state(self.path)
        self.gpus = [FakeGpu(**g) for g in state["gpus"]]
        state["sets"].append([handle, limit])
        try:
            super().nvmlDeviceSetPowerManagementLimit(handle, limit)
        finally:
            state["gpus"] = [gpu.as_dict() for gpu in self.gpus]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.path)
