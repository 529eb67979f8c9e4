"""An external sort, so that regrouping a feed costs disk, not memory.

Items are strings (or tuples) sorted in their natural order; callers make every item unique where
order among equals matters (the regrouping stages put the row number after the key), so no
stability is needed. Items gather in memory up to a byte budget, are sorted and spilled as a run of
marshal blocks (the fastest serialiser of lists of str), and the runs are merged a slice at a time:
everything up to the smallest last item of the blocks in hand is taken from each block with
`bisect` and sorted together, which Timsort does in C as a merge of the sorted pieces — several
times faster than `heapq.merge`, a Python generator that costs a heap step per item. Past
`MAX_FAN_IN` runs the oldest are merged into one first, so a huge feed never holds more than that
many blocks at once.
"""

from __future__ import annotations

import marshal
import pickle
import shutil
import struct
import tempfile
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any

# Marshal bytes of items kept before a run is spilled; the objects take ~2-4x this in memory.
RUN_BYTES = 4 * 1024 * 1024
# Marshal bytes per block of a run file: what one run holds in memory while merging.
BLOCK_BYTES = 64 * 1024
MAX_FAN_IN = 64
# Items per slice handed on from an in-memory sort.
SLICE = 4096
# Batches between two measures of a batch's spilled size; the others are taken to be alike.
SIZE_SAMPLE = 8
_LENGTH = struct.Struct("<I")


class ExternalSorter:
    """Add batches of items; `sorted` streams them all back in order. `close` removes the files."""

    def __init__(
        self, *, work_dir: Path | None = None, run_bytes: int = RUN_BYTES, block_bytes: int = BLOCK_BYTES
    ) -> None:
        self._work_dir = work_dir
        self._run_bytes = run_bytes
        self._block_bytes = block_bytes
        self._items: list[Any] = []
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

    def add(self, items: list[Any], size: int) -> None:
        """Add items whose marshal size is about `size` bytes."""
        self._items.extend(items)
        self.items += len(items)
        self._held += size
        if self._held >= self._run_bytes:
            self._spill()

    def sorted(self) -> Iterator[Any]:
        """Every item added, in order; the runs on disk are read lazily."""
        return chain.from_iterable(self.slices())

    def slices(self) -> Iterator[list[Any]]:
        """`sorted`, as consecutive lists."""
        if not self._runs:
            items, self._items = self._items, []
            items.sort()
            return (items[start : start + SLICE] for start in range(0, len(items), SLICE))
        if self._items:
            self._spill()
        while len(self._runs) > MAX_FAN_IN:
            first, self._runs = self._runs[:MAX_FAN_IN], self._runs[MAX_FAN_IN:]
            self._runs.insert(0, self._write(merge_slices(list(map(_read_run, first)))))
            for path in first:
                path.unlink()
        return merge_slices(list(map(_read_run, self._runs)))

    def close(self) -> None:
        """Remove every run file; safe to call more than once."""
        self._items = []
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._runs = []

    def _spill(self) -> None:
        items, self._items, self._held = self._items, [], 0
        items.sort()
        self._runs.append(self._write(iter([items])))

    def _write(self, slices: Iterator[list[Any]]) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="erpsync-sort-", dir=self._work_dir))
        self._count += 1
        path = self._dir / f"run-{self._count}"
        with path.open("wb") as out:
            _write_blocks(out, slices, self._block_bytes)
        return path


def merge_slices(runs: list[Iterator[list[Any]]]) -> Iterator[list[Any]]:
    """Sorted runs, each given as consecutive sorted blocks, merged into consecutive sorted slices."""
    heads: list[list[Any]] = []  # [block, offset, run] of each run not yet exhausted
    for run in runs:
        if (block := next(run, None)) is not None:
            heads.append([block, 0, run])
    while len(heads) > 1:
        bound = min(head[0][-1] for head in heads)
        out: list[Any] = []
        kept: list[list[Any]] = []
        for head in heads:
            block, offset, run = head
            cut = bisect_right(block, bound, offset)
            out += block[offset:cut]
            if cut < len(block):
                head[1] = cut
                kept.append(head)
            elif (block := next(run, None)) is not None:
                head[0], head[1] = block, 0
                kept.append(head)
        out.sort()
        yield out
        heads = kept
    if heads:
        block, offset, run = heads[0]
        yield block[offset:]
        yield from run


def dumped_size(value: Any) -> int:
    """Bytes `value` takes spilled: its marshal size, or pickle's where marshal cannot take it."""
    try:
        return len(marshal.dumps(value))
    except ValueError:
        return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _dump(block: list[Any]) -> bytes:
    """A block, marked M for marshal or P for pickle: a cell a parser could not read is a
    `CellProblem`, which marshal refuses, so only the blocks holding one pay for pickle."""
    try:
        return b"M" + marshal.dumps(block)
    except ValueError:
        return b"P" + pickle.dumps(block, pickle.HIGHEST_PROTOCOL)


def _write_blocks(out: IO[bytes], slices: Iterable[list[Any]], block_bytes: int) -> None:
    """Blocks of about `block_bytes`, sized from the last block's bytes per item, each after its
    length: `marshal.loads` of a block read whole is far faster than `marshal.load` from a file."""
    per_block = 256
    pending: list[Any] = []
    for piece in slices:
        pending += piece
        start = 0
        while len(pending) - start >= per_block:
            size = _write_block(out, pending[start : start + per_block])
            start += per_block
            per_block = max(16, min(65536, per_block * block_bytes // size))
        del pending[:start]
    if pending:
        _write_block(out, pending)


def _write_block(out: IO[bytes], block: list[Any]) -> int:
    data = _dump(block)
    out.write(_LENGTH.pack(len(data)))
    out.write(data)
    return len(data)


def _read_run(path: Path) -> Iterator[list[Any]]:
    with path.open("rb") as run:
        while head := run.read(_LENGTH.size):
            data = memoryview(run.read(_LENGTH.unpack(head)[0]))
            loads = marshal.loads if data[0] == ord("M") else pickle.loads
            yield loads(data[1:])


__all__ = ["ExternalSorter", "dumped_size", "merge_slices"]
