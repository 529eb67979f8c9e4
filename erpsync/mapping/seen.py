"""A compact set of the strings a feed has shown so far, remembering where each was first seen.

The mapping stage must notice a SKU that repeats anywhere in a feed of a million rows without
holding a million strings.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat
from operator import or_

from erpsync import speedups

# Entries moved per step when the table grows: bounds the temporary copies, not the work.
_GROW_SLICE = 1 << 15
_SMALLEST = 1 << 16
# A reservation never sizes the table beyond this many slots (16 bytes each): a wrong size hint
# must not take hundreds of MB. Past it the table still grows as entries arrive.
_LARGEST_RESERVED = 1 << 22
# One growth multiplies the table by at most this much, even towards a larger reservation: the
# table stays under 16 slots per string it holds (or is about to), whatever a row estimate said.
_LARGEST_STEP = 8
_LOW_32 = 0xFFFFFFFF


class SeenIndex:
    """Hashes of the strings seen so far → (row, product ordinal), in one flat array of 16-byte slots.

    A set of a million SKU strings costs ~100 MB; this costs ~32 MB. Python's string hash is 64-bit
    and only has to be consistent within this process. Open addressing with linear probing; each
    slot is two adjacent int64s, the hash and `row << 32 | ordinal`, because on the target hardware
    every random access to a table this size is a cache and TLB miss: one miss per string, not three.
    The probing runs in C (`erpsync._speedups.add_hashes`, which fetches a block's slots ahead so the
    misses overlap) where it was built, else in `_add_hashes` below.
    """

    def __init__(self, expected: int = 0) -> None:
        self._size = _SMALLEST
        self._used = 0
        self._reserved = _SMALLEST
        self._table = array("q", [0]) * (2 * self._size)
        self.reserve(expected)

    @property
    def capacity(self) -> int:
        """Slots in the table: at most twice the distinct strings held plus a batch, or `_SMALLEST`."""
        return self._size

    def reserve(self, expected: int) -> None:
        """Expect about `expected` distinct strings, so the table is rebuilt once or twice, not at
        every doubling. Nothing is allocated before the strings arrive: `expected` comes from a row
        count, and a feed whose rows repeat a few SKUs (a decompression bomb) never fills the table."""
        while self._reserved < 2 * expected and self._reserved < _LARGEST_RESERVED:
            self._reserved *= 2

    def add(self, text: str, row: int, ordinal: int) -> tuple[int, int] | None:
        """Record `text`; if it was seen before, return that (row, ordinal) instead."""
        repeats = self.add_many([text], [row], [ordinal])
        return (repeats[0][1], repeats[0][2]) if repeats else None

    def add_many(
        self, texts: Sequence[str], rows: Sequence[int], ordinals: Sequence[int]
    ) -> list[tuple[int, int, int]]:
        """`add` for a whole batch: `rows[i]` and `ordinals[i]` go with `texts[i]`.

        Returns (index in `texts`, first row, first ordinal) for each text seen before, in order.
        """
        needed = 2 * (self._used + len(texts))  # as if every text were new: the table never fills
        if needed > self._size:
            self._grow(needed)
        add = speedups.add_hashes or _add_hashes
        repeats = add(self._table, texts, rows, ordinals)
        self._used += len(texts) - len(repeats)
        return repeats

    def _grow(self, needed: int) -> None:
        """Double the table until it has `needed` slots; towards the reservation, up to 8x at once."""
        size = self._size * 2
        while size < needed:
            size *= 2
        self._rebuild(max(size, min(self._reserved, self._size * _LARGEST_STEP)))

    def _rebuild(self, size: int) -> None:
        """Move every entry to a table of `size` slots, a slice at a time."""
        old = self._table
        table = self._table = array("q", [0]) * (2 * size)
        self._size = size
        mask = 2 * size - 2
        for first in range(0, len(old), _GROW_SLICE):
            pairs = iter(old[first : first + _GROW_SLICE])
            for hashed, packed in zip(pairs, pairs, strict=True):
                if hashed:
                    at = hashed & mask
                    while table[at]:
                        at = (at + 2) & mask
                    table[at] = hashed
                    table[at + 1] = packed


def _add_hashes(
    table: array[int], texts: Sequence[str], rows: Sequence[int], ordinals: Sequence[int]
) -> list[tuple[int, int, int]]:
    """`add_many`'s probing loop; erpsync._speedups.add_hashes is its C twin, slot for slot."""
    # Hashes as `hash` gives them (signed) with the lowest bit set, so 0 marks an empty slot;
    # the mask is even, so a slot's hash sits at an even position and its row and ordinal after it.
    mask = len(table) - 2
    repeats: list[tuple[int, int, int]] = []
    for index, hashed in enumerate(map(or_, map(hash, texts), repeat(1))):
        at = hashed & mask
        while existing := table[at]:
            if existing == hashed:
                packed = table[at + 1]
                repeats.append((index, packed >> 32, packed & _LOW_32))
                break
            at = (at + 2) & mask
        else:
            table[at] = hashed
            table[at + 1] = rows[index] << 32 | ordinals[index]
    return repeats
