"""A compact set of the strings a feed has shown so far, remembering where each was first seen.

The mapping stage must notice a SKU that repeats anywhere in a feed of a million rows without
holding a million strings.
"""

from __future__ import annotations

from array import array

_MASK64 = (1 << 64) - 1


class SeenIndex:
    """Hashes of the strings seen so far → (row, product ordinal), in flat arrays of ~16 bytes each.

    A set of a million SKU strings costs ~100 MB; this costs ~32 MB. Python's string hash is 64-bit
    and only has to be consistent within this process.
    """

    def __init__(self) -> None:
        self._size = 1 << 14
        self._hashes = array("Q", [0]) * self._size
        self._rows = array("I", [0]) * self._size
        self._ordinals = array("I", [0]) * self._size
        self._used = 0

    def add(self, text: str, row: int, ordinal: int) -> tuple[int, int] | None:
        """Record `text`; if it was seen before, return that (row, ordinal) instead."""
        hashed = (hash(text) & _MASK64) or 1
        mask = self._size - 1
        slot = hashed & mask
        hashes = self._hashes
        while True:
            existing = hashes[slot]
            if existing == 0:
                break
            if existing == hashed:
                return self._rows[slot], self._ordinals[slot]
            slot = (slot + 1) & mask
        hashes[slot] = hashed
        self._rows[slot] = row
        self._ordinals[slot] = ordinal
        self._used += 1
        if self._used * 2 > self._size:
            self._grow()
        return None

    def _grow(self) -> None:
        old = zip(self._hashes, self._rows, self._ordinals, strict=True)
        self._size *= 2
        mask = self._size - 1
        hashes = array("Q", [0]) * self._size
        rows = array("I", [0]) * self._size
        ordinals = array("I", [0]) * self._size
        for hashed, row, ordinal in old:
            if hashed:
                slot = hashed & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot], rows[slot], ordinals[slot] = hashed, row, ordinal
        self._hashes, self._rows, self._ordinals = hashes, rows, ordinals
