"""GPU telemetry: every ``interval`` seconds one "telemetry" record on the node's
stream (job None, attempt 0) with, per GPU, utilisation %, memory used MiB, power
W and temperature C. Read-only NVML queries: nothing here changes a GPU's clocks,
power limit or any other setting. With no GPU (or no NVML) there are no records.

The NVML access is a small object (``GpuSource``) so tests can pass a fake.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Protocol

from gpu_agent.spool import Spool

log = logging.getLogger("gpu_agent.telemetry")


class GpuSource(Protocol):
    def sample(self) -> list[dict[str, Any]]:
        """One dict per GPU: {"index", "util", "mem_used_mib", "power_w", "temp_c"}
        (a value NVML cannot give is None). An empty list when there is no GPU."""
        ...

    def close(self) -> None: ...


class NvmlSource:
    """Reads the node's GPUs through pynvml (nvidia-ml-py), if it and a driver are there."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            import pynvml
        except ImportError:
            log.info("telemetry off: nvidia-ml-py is not installed")
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            log.info("telemetry off: no NVIDIA driver (%s)", exc)
            return
        self._nvml = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as exc:
            log.warning("telemetry off: NVML cannot list GPUs (%s)", exc)
            self.close()

    def _read(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nvml.NVMLError:
            return None

    def sample(self) -> list[dict[str, Any]]:
        nvml = self._nvml
        if nvml is None:
            return []
        out = []
        for index, handle in enumerate(self._handles):
            util = self._read(nvml.nvmlDeviceGetUtilizationRates, handle)
            memory = self._read(nvml.nvmlDeviceGetMemoryInfo, handle)
            power_mw = self._read(nvml.nvmlDeviceGetPowerUsage, handle)
            temp = self._read(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
            out.append(
                {
                    "index": index,
                    "util": float(util.gpu) if util is not None else None,
                    "mem_used_mib": int(memory.used // (1024 * 1024)) if memory else None,
                    "power_w": round(power_mw / 1000.0, 1) if power_mw is not None else None,
                    "temp_c": float(temp) if temp is not None else None,
                }
            )
        return out

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()
            self._nvml = None
            self._handles = []


class Telemetry:
    def __init__(self, spool: Spool, source: GpuSource | None = None, *, interval: float = 10.0):
        self.spool = spool
        self.source = source
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample_once(self) -> bool:
        """Take one sample; True when a record was spooled."""
        if self.source is None:
            self.source = NvmlSource()
        gpus = self.source.sample()
        if not gpus:
            return False
        self.spool.append(None, 0, "telemetry", {"gpus": gpus})
        return True

    def start(self) -> Telemetry:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.source is not None:
            self.source.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:
                log.exception("telemetry sample failed")
            self._stop.wait(self.interval)
