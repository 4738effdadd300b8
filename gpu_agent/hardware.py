"""What a node has: CPUs, memory, and per GPU (through NVML) index, model, memory, driver."""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit


@dataclass(kw_only=True)
class GpuInfo:
    index: int
    model: str
    memory_mib: int
    driver: str


@dataclass(kw_only=True)
class NodeInventory:
    hostname: str
    cpu_count: int
    memory_mib: int
    platform: str
    gpus: list[GpuInfo] = field(default_factory=list)
    nvml_error: str = ""
    address: str = ""  # where the other nodes of a multi-node run reach this one

    def as_dict(self) -> dict:
        return asdict(self)


def _memory_mib() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return 0


def _gpus() -> tuple[list[GpuInfo], str]:
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], f"no NVIDIA driver: {exc}"
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else driver
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    model=name.decode() if isinstance(name, bytes) else name,
                    memory_mib=int(memory.total // (1024 * 1024)),
                    driver=driver,
                )
            )
        return gpus, ""
    finally:
        pynvml.nvmlShutdown()


def address_towards(url: str) -> str:
    """This host's address on the route to ``url`` (the console): the interface
    other nodes of the same cluster most likely reach it on. No packet is sent
    (a UDP socket's connect only picks the route)."""
    host = urlsplit(url).hostname or "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((socket.gethostbyname(host), 9))
            return str(sock.getsockname()[0])
    except OSError:
        return socket.gethostname()


def node_inventory(*, address: str = "") -> NodeInventory:
    gpus, error = _gpus()
    return NodeInventory(
        address=address,
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 1,
        memory_mib=_memory_mib(),
        platform=platform.platform(),
        gpus=gpus,
        nvml_error=error,
    )


class HostLoad:
    """CPU utilisation (from /proc/stat deltas) and memory in use, for heartbeats.
    Linux only; elsewhere it reports nothing."""

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = self._cpu_times()

    @staticmethod
    def _cpu_times() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as handle:
                fields = [int(x) for x in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    @staticmethod
    def _mem_used_mib() -> int | None:
        try:
            info = {}
            with open("/proc/meminfo") as handle:
                for line in handle:
                    key, value = line.split(":", 1)
                    info[key] = int(value.split()[0])
            return (info["MemTotal"] - info["MemAvailable"]) // 1024
        except (OSError, KeyError, ValueError):
            return None

    def sample(self) -> dict:
        now = self._cpu_times()
        util = None
        if now and self._last and now[0] > self._last[0]:
            total, idle = now[0] - self._last[0], now[1] - self._last[1]
            util = round(100.0 * (total - idle) / total, 1)
        self._last = now
        out = {}
        if util is not None:
            out["cpu_util"] = util
        mem = self._mem_used_mib()
        if mem is not None:
            out["mem_used_mib"] = mem
        return out
