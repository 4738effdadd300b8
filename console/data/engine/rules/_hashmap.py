"""A compact uint64 -> int map for dedup state, in two numpy arrays.

A Python dict costs about 100 bytes an entry (key object, value object, slot);
this costs 8 bytes per key plus the value's size per slot, at a load factor
between 0.25 and 0.5: 32-64 bytes an entry with int64 values, 24-48 with int32.
Keys are already hashes, so their low bits pick the slot (linear probing); the key
0 marks an empty slot, so a key of 0 is stored as 1 (one collision in 2**64).
"""

from __future__ import annotations

import numpy as np

_MAX_LOAD = 0.5


class U64Map:
    def __init__(self, capacity: int = 1 << 12, value_dtype: type = np.int64) -> None:
        cap = 1 << max(4, (capacity - 1).bit_length())
        self._keys = np.zeros(cap, dtype=np.uint64)
        self._vals = np.zeros(cap, dtype=value_dtype)
        self._mask = cap - 1
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._vals.nbytes

    def get(self, key: int) -> int:
        """The value stored for ``key``, or -1."""
        key = key or 1
        keys = self._keys
        i = key & self._mask
        while True:
            k = int(keys[i])
            if k == key:
                return int(self._vals[i])
            if k == 0:
                return -1
            i = (i + 1) & self._mask

    def setdefault(self, key: int, value: int) -> int:
        """Store ``value`` unless ``key`` is present; return the stored value."""
        key = key or 1
        keys = self._keys
        i = key & self._mask
        while True:
            k = int(keys[i])
            if k == key:
                return int(self._vals[i])
            if k == 0:
                keys[i] = key
                self._vals[i] = value
                self.size += 1
                if self.size > _MAX_LOAD * len(keys):
                    self._grow()
                return value
            i = (i + 1) & self._mask

    def get_many(self, keys: np.ndarray) -> np.ndarray:
        """Values for an array of keys (-1 where absent), all probed at once."""
        keys = np.where(keys == 0, np.uint64(1), keys).astype(np.uint64)
        result = np.full(len(keys), -1, dtype=np.int64)
        slots = (keys & np.uint64(self._mask)).astype(np.int64)
        pending = np.arange(len(keys))
        while pending.size:
            s = slots[pending]
            found = self._keys[s]
            hit = found == keys[pending]
            result[pending[hit]] = self._vals[s[hit]]
            pending = pending[~(hit | (found == 0))]
            slots[pending] = (slots[pending] + 1) & self._mask
        return result

    def update_missing(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Store each key that is not present yet (the first value given for a key
        repeated in ``keys``); present keys keep theirs."""
        keys = np.where(keys == 0, np.uint64(1), keys).astype(np.uint64)
        _, first = np.unique(keys, return_index=True)
        first.sort()
        keys, values = keys[first], values[first]
        absent = self.get_many(keys) < 0
        keys, values = keys[absent], values[absent]
        while self.size + len(keys) > _MAX_LOAD * len(self._keys):
            self._grow()
        self._insert_absent(keys, values)
        self.size += len(keys)

    def _grow(self) -> None:
        live = self._keys != 0
        keys, vals = self._keys[live], self._vals[live]
        cap = len(self._keys) * 2
        self._keys = np.zeros(cap, dtype=np.uint64)
        self._vals = np.zeros(cap, dtype=self._vals.dtype)
        self._mask = cap - 1
        self._insert_absent(keys, vals)

    def _insert_absent(self, keys: np.ndarray, vals: np.ndarray) -> None:
        """Vectorised insertion of unique keys known to be absent: each round, every
        pending key tries its slot; of those finding it free, one per slot wins; the
        rest move on to the next slot."""
        slots = (keys & np.uint64(self._mask)).astype(np.int64)
        pending = np.arange(len(keys))
        while pending.size:
            s = slots[pending]
            free = self._keys[s] == 0
            candidates = pending[free]
            _, first = np.unique(s[free], return_index=True)
            winners = candidates[first]
            self._keys[slots[winners]] = keys[winners]
            self._vals[slots[winners]] = vals[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slots[pending] = (slots[pending] + 1) & self._mask
