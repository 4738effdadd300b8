"""Read packed token shards on a GPU node: ``PackedShards``.

The console writes the shards (``console/data/engine/shards.py``): raw
little-endian ``uint16``/``uint32`` arrays of ``seq_len``-token rows, and an
``index.json`` that describes them. This module needs only the standard library
and numpy; torch is optional (``as_torch_dataset``). It reads JSON and raw
arrays and nothing else: no pickle, no ``np.load`` of object arrays.

Each item follows the Hugging Face causal-LM convention::

    {"input_ids": int64[seq_len], "attention_mask": int64[seq_len], "labels": int64[seq_len]}

``labels`` equals ``input_ids`` with -100 on padding; the model shifts labels by
itself. Only the last row of a split can hold padding (``last_sequence_tokens``
in the index says how many of its tokens are real).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FORMAT = "forge.packed-shards"
SUPPORTED_VERSIONS = (1,)
INDEX_FILE = "index.json"
IGNORE_INDEX = -100
_DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}
_SHARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.bin$")
_SPLIT_ALIASES = {"validation": "val", "valid": "val", "eval": "val"}


class ShardIndexError(ValueError):
    """index.json or a shard file is missing, malformed or inconsistent."""


def _int(obj: dict, key: str, where: str, lo: int = 0) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ShardIndexError(f"{where}: {key!r} must be an integer >= {lo}, got {value!r}")
    return value


class PackedShards:
    """One split (``"train"`` or ``"val"``) of a packed-shard folder, memory-mapped.

    ``verify=True`` also checks every shard's sha256 (reads all the data once).
    Shards are opened lazily, per process; a pickled ``PackedShards`` (for
    DataLoader workers) carries only its folder and split, never data.
    """

    def __init__(self, directory: Path, split: str = "train", *, verify: bool = False) -> None:
        self.directory = Path(directory)
        self.split = _SPLIT_ALIASES.get(split, split)
        self.verify = verify
        self.index = self._read_index()
        self._maps: list[np.memmap] | None = None

    # ------------------------------------------------------------------ index

    def _read_index(self) -> dict:
        path = self.directory / INDEX_FILE
        if not path.is_file():
            raise ShardIndexError(f"{self.directory}: no {INDEX_FILE}")
        try:
            index = json.loads(path.read_text("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ShardIndexError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(index, dict):
            raise ShardIndexError(f"{path}: expected a JSON object")
        if index.get("format") != FORMAT:
            raise ShardIndexError(f"{path}: format is {index.get('format')!r}, not {FORMAT!r}")
        if index.get("version") not in SUPPORTED_VERSIONS:
            raise ShardIndexError(
                f"{path}: index version {index.get('version')!r} is not supported "
                f"(this reader understands {', '.join(map(str, SUPPORTED_VERSIONS))})"
            )
        if index.get("dtype") not in _DTYPES:
            raise ShardIndexError(f"{path}: dtype {index.get('dtype')!r} is not uint16/uint32")
        if index.get("byte_order", "little") != "little":
            raise ShardIndexError(f"{path}: byte_order must be 'little'")
        seq_len = _int(index, "seq_len", str(path), lo=1)
        vocab = _int(index, "vocab_size", str(path), lo=1)
        if index["dtype"] == "uint16" and vocab > 65_536:
            raise ShardIndexError(f"{path}: vocab_size {vocab:,} does not fit in uint16")
        for key in ("eos_id", "pad_id"):
            if _int(index, key, str(path)) >= vocab:
                raise ShardIndexError(f"{path}: {key} is outside the vocabulary")
        splits = index.get("splits")
        if not isinstance(splits, dict) or self.split not in splits:
            have = ", ".join(sorted(splits)) if isinstance(splits, dict) else "none"
            raise ShardIndexError(f"{path}: no split {self.split!r} (have: {have})")
        info = splits[self.split]
        where = f"{path} [{self.split}]"
        if not isinstance(info, dict) or not isinstance(info.get("shards"), list):
            raise ShardIndexError(f"{where}: expected an object with a 'shards' list")
        itemsize = _DTYPES[index["dtype"]].itemsize
        total = 0
        for n, shard in enumerate(info["shards"]):
            w = f"{where} shard {n}"
            if not isinstance(shard, dict):
                raise ShardIndexError(f"{w}: expected an object")
            name = shard.get("file")
            if not isinstance(name, str) or not _SHARD_NAME.match(name):
                raise ShardIndexError(f"{w}: bad file name {name!r}")
            rows = _int(shard, "sequences", w, lo=1)
            expected = rows * seq_len * itemsize
            if shard.get("bytes", expected) != expected:
                raise ShardIndexError(
                    f"{w}: {name} is listed with {shard.get('bytes')!r} bytes, but "
                    f"{rows:,} sequences x {seq_len:,} tokens x {itemsize} bytes = {expected:,}"
                )
            file = self.directory / name
            if not file.is_file():
                raise ShardIndexError(f"{w}: {name} is missing")
            actual = file.stat().st_size
            if actual != expected:
                raise ShardIndexError(
                    f"{w}: {name} has {actual:,} bytes; the index expects {expected:,} "
                    f"({rows:,} sequences x {seq_len:,} tokens x {itemsize} bytes)"
                )
            if self.verify and shard.get("sha256") != _sha256(file):
                raise ShardIndexError(f"{w}: {name} does not match its sha256")
            total += rows
        sequences = _int(info, "sequences", where)
        if sequences != total:
            raise ShardIndexError(
                f"{where}: the split lists {sequences:,} sequences but its shards hold {total:,}"
            )
        last = _int(info, "last_sequence_tokens", where)
        if total and not 1 <= last <= seq_len:
            raise ShardIndexError(f"{where}: last_sequence_tokens must be 1..{seq_len}")
        padding = info.get("padding_tokens", seq_len - last if total else 0)
        if total and padding != seq_len - last:
            raise ShardIndexError(f"{where}: padding_tokens and last_sequence_tokens disagree")
        return index

    # ------------------------------------------------------------------ access

    @property
    def seq_len(self) -> int:
        return self.index["seq_len"]

    @property
    def vocab_size(self) -> int:
        return self.index["vocab_size"]

    @property
    def dtype(self) -> np.dtype:
        return _DTYPES[self.index["dtype"]]

    @property
    def pad_id(self) -> int:
        return self.index["pad_id"]

    @property
    def eos_id(self) -> int:
        return self.index["eos_id"]

    @property
    def bos_id(self) -> int | None:
        return self.index.get("bos_id")

    @property
    def info(self) -> dict:
        return self.index["splits"][self.split]

    @property
    def num_tokens(self) -> int:
        """Real tokens in this split (padding excluded)."""
        return len(self) * self.seq_len - (self.seq_len - self._last_real() if len(self) else 0)

    def _last_real(self) -> int:
        return self.info["last_sequence_tokens"]

    def _open(self) -> list[np.memmap]:
        if self._maps is None:
            maps, starts, at = [], [], 0
            for shard in self.info["shards"]:
                rows = shard["sequences"]
                maps.append(
                    np.memmap(
                        self.directory / shard["file"],
                        dtype=self.dtype,
                        mode="r",
                        shape=(rows, self.seq_len),
                    )
                )
                starts.append(at)
                at += rows
            self._starts = starts
            self._maps = maps
        return self._maps

    def __len__(self) -> int:
        return self.info["sequences"]

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` as stored (uint16/uint32 view into the memory map)."""
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise TypeError(f"sequence index must be an integer, not {type(i).__name__}")
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sequence {i} out of range for {n:,} sequences")
        maps = self._open()
        k = bisect.bisect_right(self._starts, i) - 1
        return maps[k][i - self._starts[k]]

    def real_tokens(self, i: int) -> int:
        """How many tokens of row ``i`` are real (``seq_len`` except maybe the last)."""
        n = len(self)
        return self._last_real() if (i % n if n else i) == n - 1 else self.seq_len

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        input_ids = self.row(i).astype(np.int64)
        mask = np.ones(self.seq_len, dtype=np.int64)
        real = self.real_tokens(int(i))
        mask[real:] = 0
        labels = input_ids.copy()
        labels[real:] = IGNORE_INDEX
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

    # ------------------------------------------------------------------ batches

    def rank_indices(
        self,
        *,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        batch_size: int = 1,
        drop_last: bool = False,
    ) -> np.ndarray:
        """The sequence indices rank ``rank`` of ``world_size`` reads, in order.

        Every rank computes the same order (a permutation seeded by ``(seed,
        epoch)`` when ``shuffle``, else 0..n-1) and takes every ``world_size``-th
        element from position ``rank``: across ranks each sequence is read
        exactly once. With ``drop_last`` the order is first cut to a multiple of
        ``world_size * batch_size``, so that every rank gets the same number of
        full batches, which data-parallel training needs to stay in step; without
        it ranks may differ by one sequence (and so by one, smaller, batch).
        """
        for name, value, lo in (("world_size", world_size, 1), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank!r}")
        n = len(self)
        if shuffle:
            order = np.random.default_rng([int(seed), int(epoch)]).permutation(n)
        else:
            order = np.arange(n)
        if drop_last:
            order = order[: n // (world_size * batch_size) * world_size * batch_size]
        return order[rank::world_size]

    def iter_batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        epoch: int = 0,
        drop_last: bool = False,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Batches of ``(batch_size, seq_len)`` int64 arrays for this rank.

        See ``rank_indices`` for how sequences are shared between ranks; pass a
        new ``epoch`` to reshuffle. The last batch may be smaller unless
        ``drop_last``.
        """
        indices = self.rank_indices(
            shuffle=shuffle,
            seed=seed,
            epoch=epoch,
            rank=rank,
            world_size=world_size,
            batch_size=batch_size,
            drop_last=drop_last,
        )
        for start in range(0, len(indices), batch_size):
            items = [self[int(i)] for i in indices[start : start + batch_size]]
            if drop_last and len(items) < batch_size:
                return
            yield {key: np.stack([item[key] for item in items]) for key in items[0]}

    # ------------------------------------------------------------------ torch

    def as_torch_dataset(self):
        """A ``torch.utils.data.Dataset`` over this split (items are dicts of tensors)."""
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("as_torch_dataset() needs torch, which is not installed") from exc
        # The class is made on first use by the module's __getattr__ (keeps torch unimported).
        return sys.modules[__name__].PackedTorchDataset(self)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict:
        return {"directory": str(self.directory), "split": self.split, "verify": False}

    def __setstate__(self, state: dict) -> None:
        self.__init__(Path(state["directory"]), state["split"], verify=state["verify"])

    def __repr__(self) -> str:
        return (
            f"PackedShards({str(self.directory)!r}, split={self.split!r}: {len(self):,} x "
            f"{self.seq_len:,} {self.index['dtype']})"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _make_torch_dataset():
    import torch
    from torch.utils.data import Dataset

    class PackedTorchDataset(Dataset):
        """Torch view of ``PackedShards``; picklable for DataLoader workers."""

        def __init__(self, shards: PackedShards) -> None:
            self.shards = shards

        def __len__(self) -> int:
            return len(self.shards)

        def __getitem__(self, i: int) -> dict:
            return {k: torch.from_numpy(v) for k, v in self.shards[i].items()}

    PackedTorchDataset.__module__ = __name__
    PackedTorchDataset.__qualname__ = "PackedTorchDataset"
    return PackedTorchDataset


def __getattr__(name: str):
    # Defined lazily so that importing this module never imports torch; pickle
    # finds the class by this name in DataLoader worker processes.
    if name == "PackedTorchDataset":
        cls = _make_torch_dataset()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
