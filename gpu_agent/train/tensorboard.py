"""A TensorBoard event-file writer for scalars, with no dependency beyond the
standard library (GPU nodes are air-gapped and may lack the tensorboard package).

Files are TFRecord streams of ``Event`` protocol buffers, the format
``tensorboard --logdir`` and ``EventAccumulator`` read: each record is
``uint64 length, uint32 masked crc32c(length), data, uint32 masked crc32c(data)``.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def _event(wall_time: float, step: int, *, file_version: str = "", scalars=()) -> bytes:
    out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(step)
    if file_version:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(
            _bytes_field(
                1, _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", float(value))
            )
            for tag, value in scalars
        )
        out += _bytes_field(5, values)
    return out


class SummaryWriter:
    """``add_scalars(step, {"Loss/train": 2.1, ...})``; one file per writer."""

    def __init__(self, logdir: Path) -> None:
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.path = logdir / name
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))

    def _write(self, data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", _masked(crc32c(header))))
        self._file.write(data + struct.pack("<I", _masked(crc32c(data))))

    def add_scalars(self, step: int, values: dict[str, float]) -> None:
        self._write(_event(time.time(), step, scalars=sorted(values.items())))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
