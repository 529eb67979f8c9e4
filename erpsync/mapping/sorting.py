"""An external sort of tuples, so that regrouping a feed costs disk, not memory.

Items are tuples sorted by their first field, a string, ties kept in the order items were added
(a stable sort and a stable merge: comparing strings alone is ~3x faster than whole tuples, and
callers add items in row order or put what breaks ties in the string). Items gather in memory up to a byte budget, are sorted and
spilled as a run of marshal blocks (the fastest serialiser of lists of str and plain dicts), and the
runs are merged with `heapq.merge`, one block per run in memory. Past `MAX_FAN_IN` runs the oldest
are merged into one first, so a huge feed never holds more than that many blocks at once.
"""

from __future__ import annotations

import heapq
import marshal
import pickle
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

# Marshal bytes of items kept before a run is spilled; the objects take ~3-4x this in memory.
RUN_BYTES = 4 * 1024 * 1024
# Marshal bytes per block of a run file: what one run holds in memory while merging.
BLOCK_BYTES = 64 * 1024
MAX_FAN_IN = 64
# Batches between two measures of a batch's spilled size; the others are taken to be alike.
SIZE_SAMPLE = 8
_LENGTH = struct.Struct("<I")
_sort_key = itemgetter(0)


class ExternalSorter:
    """Add batches of tuples; `sorted` streams them all back in tuple order. `close` removes the files."""

    def __init__(
        self, *, work_dir: Path | None = None, run_bytes: int = RUN_BYTES, block_bytes: int = BLOCK_BYTES
    ) -> None:
        self._work_dir = work_dir
        self._run_bytes = run_bytes
        self._block_bytes = block_bytes
        self._items: list[tuple[Any, ...]] = []
        self._held = 0
        self._dir: Path | None = None
        self._runs: list[Path] = []
        self._count = 0
        self.items = 0
        self._batches = self._measured_bytes = self._measured_records = 0

    @property
    def directory(self) -> Path | None:
        """Where the runs are spilled, once one is."""
        return self._dir

    def size_of(self, records: list[Any]) -> int:
        """About what `records` take spilled: one batch in SIZE_SAMPLE is measured, the others are
        estimated per record from those (marshal costs as much as the spill itself)."""
        self._batches += 1
        if self._batches % SIZE_SAMPLE == 1:
            self._measured_bytes += dumped_size(records)
            self._measured_records += len(records)
        return self._measured_bytes * len(records) // max(1, self._measured_records)

    def add(self, items: list[tuple[Any, ...]], size: int) -> None:
        """Add items whose marshal size is about `size` bytes."""
        self._items.extend(items)
        self.items += len(items)
        self._held += size
        if self._held >= self._run_bytes:
            self._spill()

    def sorted(self) -> Iterator[tuple[Any, ...]]:
        """Every item added, in order; the runs on disk are read lazily."""
        if not self._runs:
            items, self._items = self._items, []
            items.sort(key=_sort_key)
            return iter(items)
        if self._items:
            self._spill()
        while len(self._runs) > MAX_FAN_IN:
            first, self._runs = self._runs[:MAX_FAN_IN], self._runs[MAX_FAN_IN:]
            # In front: its items were added first, so they win ties.
            self._runs.insert(0, self._write(heapq.merge(*map(_read_run, first), key=_sort_key)))
            for path in first:
                path.unlink()
        return heapq.merge(*map(_read_run, self._runs), key=_sort_key)

    def close(self) -> None:
        """Remove every run file; safe to call more than once."""
        self._items = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._runs = []

    def _spill(self) -> None:
        items, self._items, self._held = self._items, [], 0
        items.sort(key=_sort_key)
        self._runs.append(self._write(iter(items)))

    def _write(self, items: Iterator[tuple[Any, ...]]) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="erpsync-sort-", dir=self._work_dir))
        self._count += 1
        path = self._dir / f"run-{self._count}"
        with path.open("wb") as out:
            _write_blocks(out, items, self._block_bytes)
        return path


def dumped_size(value: Any) -> int:
    """Bytes `value` takes spilled: its marshal size, or pickle's where marshal cannot take it."""
    try:
        return len(marshal.dumps(value))
    except ValueError:
        return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _dump(block: list[tuple[Any, ...]]) -> bytes:
    """A block, marked M for marshal or P for pickle: a cell a parser could not read is a
    `CellProblem`, which marshal refuses, so only the blocks holding one pay for pickle."""
    try:
        return b"M" + marshal.dumps(block)
    except ValueError:
        return b"P" + pickle.dumps(block, pickle.HIGHEST_PROTOCOL)


def _write_blocks(out: IO[bytes], items: Iterable[tuple[Any, ...]], block_bytes: int) -> None:
    """Blocks of about `block_bytes`, sized from the last block's bytes per item, each after its
    length: `marshal.loads` of a block read whole is far faster than `marshal.load` from a file."""
    per_block = 256
    block: list[tuple[Any, ...]] = []
    for item in items:
        block.append(item)
        if len(block) >= per_block:
            size = _write_block(out, block)
            per_block = max(16, min(65536, per_block * block_bytes // size))
            block = []
    if block:
        _write_block(out, block)


def _write_block(out: IO[bytes], block: list[tuple[Any, ...]]) -> int:
    data = _dump(block)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    return len(data)


def _read_run(path: Path) -> Iterator[tuple[Any, ...]]:
    with path.open("rb") as run:
        while head := run.read(_LENGTH.size):
            data = memoryview(run.read(_LENGTH.unpack(head)[0]))
            loads = marshal.loads if data[0] == ord("M") else pickle.loads
            block: list[tuple[Any, ...]] = loads(data[1:])
            yield from block


__all__ = ["ExternalSorter", "dumped_size"]
