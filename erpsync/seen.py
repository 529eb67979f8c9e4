"""A compact set of the strings a feed has shown so far, remembering where each was first seen.

The mapping stage must notice a SKU that repeats anywhere in a feed of a million rows without
holding a million strings.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence
from itertools import compress, repeat
from operator import or_

# Entries moved per step when the table grows: bounds the temporary lists, not the work.
_GROW_SLICE = 1 << 14


class SeenIndex:
    """Hashes of the strings seen so far → (row, product ordinal), in flat arrays of ~16 bytes each.

    A set of a million SKU strings costs ~100 MB; this costs ~32 MB. Python's string hash is 64-bit
    and only has to be consistent within this process. Open addressing with linear probing; only the
    probing runs in Python, rows and ordinals are written a batch at a time by C-level maps.
    """

    def __init__(self) -> None:
        self._size = 1 << 16
        # Hashes as `hash` gives them (signed) with the lowest bit set, so 0 marks an empty slot; one
        # spare row and ordinal past the table, where `add_many` writes those of repeats, unused.
        self._hashes = array("q", [0]) * self._size
        self._rows = array("I", [0]) * (self._size + 1)
        self._ordinals = array("I", [0]) * (self._size + 1)
        self._used = 0

    def add(self, text: str, row: int, ordinal: int) -> tuple[int, int] | None:
        """Record `text`; if it was seen before, return that (row, ordinal) instead."""
        repeats = self.add_many([text], [row], [ordinal])
        return (repeats[0][1], repeats[0][2]) if repeats else None

    def add_many(
        self, texts: Sequence[str], rows: Sequence[int], ordinals: Sequence[int]
    ) -> list[tuple[int, int, int]]:
        """`add` for a whole batch: `rows[i]` and `ordinals[i]` go with `texts[i]`.

        Returns (index in `texts`, first row, first ordinal) for each text seen before, in order.
        (Placing the texts whose home slot is free with C-level maps and probing only the rest was
        measured: slower, as the bookkeeping costs more than the loop it saves.)
        """
        while (self._used + len(texts)) * 2 > self._size:
            self._grow()
        hashes, mask, spare = self._hashes, self._size - 1, self._size
        slots: list[int] = []
        repeats: list[tuple[int, int, int]] = []
        for index, hashed in enumerate(map(or_, map(hash, texts), repeat(1))):
            slot = hashed & mask
            while existing := hashes[slot]:
                if existing == hashed:
                    # Rows of this batch are written below; write those so far to read the first one.
                    self._write(slots, rows, ordinals)
                    repeats.append((index, self._rows[slot], self._ordinals[slot]))
                    slot = spare
                    break
                slot = (slot + 1) & mask
            else:
                hashes[slot] = hashed
            slots.append(slot)
        self._write(slots, rows, ordinals)
        self._used += len(texts) - len(repeats)
        return repeats

    def _write(self, slots: list[int], rows: Sequence[int], ordinals: Sequence[int]) -> None:
        deque(map(self._rows.__setitem__, slots, rows), maxlen=0)
        deque(map(self._ordinals.__setitem__, slots, ordinals), maxlen=0)

    def _grow(self) -> None:
        """Double the table, moving entries a slice at a time so no list of a million ints is built."""
        old_hashes, old_rows, old_ordinals, old_size = self._hashes, self._rows, self._ordinals, self._size
        self._size *= 2
        mask = self._size - 1
        hashes = self._hashes = array("q", [0]) * self._size
        self._rows = array("I", [0]) * (self._size + 1)
        self._ordinals = array("I", [0]) * (self._size + 1)
        for first in range(0, old_size, _GROW_SLICE):
            occupied = list(
                compress(
                    range(first, min(first + _GROW_SLICE, old_size)), old_hashes[first : first + _GROW_SLICE]
                )
            )
            slots: list[int] = []
            for hashed in map(old_hashes.__getitem__, occupied):
                slot = hashed & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot] = hashed
                slots.append(slot)
            self._write(
                slots,
                list(map(old_rows.__getitem__, occupied)),
                list(map(old_ordinals.__getitem__, occupied)),
            )
