"""Sort items: a record, its sort key and its place in the feed, as one string.

One string an item, not a tuple of five objects, is what makes regrouping cheap: the sort compares
strings in C with no key function, marshal spills and loads a list of strings fastest, and a block
held while merging is one object per row. An item is

    HEAD = key, END, [a kind digit,] the row number in 12 digits
    HEAD SEP cell SEP cell ...                 a CSV row whose cells hold no SEP (nearly every row)
    HEAD PICKLED marshal-or-pickle bytes       anything else: a JSON record, a row with a line
                                               number or a CellProblem, a cell holding SEP

The key has every NUL written as NUL SOH and ends in NUL NUL, so a key that is the start of
another still sorts first and groups alone. The row number makes every head unique: items sort by
key then row, which is feed order among equals, and the payload is never compared. A packed item
splits at SEP straight into a record whose first cell is its head, which the mapper reads as a
column it ignores (or a regrouping stage overwrites with the product's key).
"""

from __future__ import annotations

import marshal
import pickle
from collections.abc import Iterable, Iterator
from itertools import islice, repeat
from operator import contains, itemgetter
from typing import Any

from erpsync.feeds.records import RecordBatch

# Joins a CSV row's cells (ASCII unit separator; a row holding one is pickled instead).
SEPARATOR = "\x1f"
END = "\x00\x00"
PICKLED = "\x1d"
ROW_DIGITS = 12
_ESCAPED = "\x00\x01"
_head = itemgetter(0)


def escaped(keys: list[str]) -> list[str]:
    """Keys as they go into a head: a NUL in one (rare, but a feed may hold anything) escaped."""
    if any(map(contains, keys, repeat("\x00"))):
        return [key.replace("\x00", _ESCAPED) for key in keys]
    return keys


def unescaped(key: str) -> str:
    """A key as it was before `escaped`."""
    return key.replace(_ESCAPED, "\x00") if "\x00" in key else key


def placed(batch: RecordBatch) -> tuple[Iterable[int], Iterable[int | None]]:
    """Each record's row number and file line, as `zip` takes them."""
    count = len(batch.records)
    rows: Iterable[int] = (
        batch.rows if batch.rows is not None else range(batch.first_row, batch.first_row + count)
    )
    lines: Iterable[int | None]
    if batch.lines is not None and len(batch.lines) >= count:
        lines = batch.lines
    elif batch.lines is not None:
        lines = [batch.line_of(index) for index in range(count)]
    else:
        lines = repeat(None)
    return rows, lines


def pack(records: list[Any], columns: tuple[str, ...] | None) -> list[str] | None:
    """CSV rows as one string each, or None where one holds SEP or a CellProblem (or the records
    are not CSV rows)."""
    if columns is None:
        return None
    try:
        joined = list(map(SEPARATOR.join, records))
    except TypeError:
        return None
    if sum(map(str.count, joined, repeat(SEPARATOR))) != sum(map(len, records)) - len(records):
        return None
    return joined


def encode(keys: list[str], batch: RecordBatch) -> tuple[list[str], bool]:
    """The batch's items, its records after `keys` (each an escaped key, END and any kind digit),
    and whether every one is packed."""
    rows, lines = placed(batch)
    packed = None if batch.lines is not None or batch.problems else pack(batch.records, batch.columns)
    if packed is not None:
        return list(map(f"{{}}{{:0{ROW_DIGITS}}}{SEPARATOR}{{}}".format, keys, rows, packed)), True
    items = [
        f"{key}{row:0{ROW_DIGITS}}{PICKLED}" + _dumps((line, record, batch.problems))
        for key, row, line, record in zip(keys, rows, lines, batch.records, strict=False)
    ]
    return items, False


class Decoded:
    """A slice of sorted items taken apart: each record's head, row, line and the record, whose
    first cell (a CSV row's) is its head."""

    __slots__ = ("heads", "lines", "problems", "records", "rows")

    def __init__(self, items: list[str], *, packed: bool, head_tail: int) -> None:
        """`packed`: every item is; `head_tail`: a head's characters after END."""
        # None where every line is unknown; an item without one (a packed row) holds None.
        self.lines: list[Any] | None = None
        self.problems = False
        if packed:
            self.records: list[Any] = list(map(str.split, items, repeat(SEPARATOR)))
            self.heads: list[str] = list(map(_head, self.records))
        else:
            self._unpickle(items, head_tail)
        self.rows = [int(head[-ROW_DIGITS:]) for head in self.heads]

    def _unpickle(self, items: list[str], head_tail: int) -> None:
        self.heads, self.records = [], []
        lines: list[int | None] = []
        for item in items:
            cut = item.index(END) + len(END) + head_tail
            head = item[:cut]
            if item[cut] == SEPARATOR:
                record: Any = item.split(SEPARATOR)
                line = None
            else:
                line, record, flagged = _loads(item[cut + 1 :])
                self.problems = self.problems or flagged
                if record.__class__ is list:
                    record = [head, *record]
            self.heads.append(head)
            self.records.append(record)
            lines.append(line)
        if any(line is not None for line in lines):
            self.lines = lines


def slices(items: Iterator[str], size: int) -> Iterator[list[str]]:
    """Sorted items in lists of `size`."""
    while chunk := list(islice(items, size)):
        yield chunk


def _dumps(value: Any) -> str:
    try:
        data = b"M" + marshal.dumps(value)
    except ValueError:
        data = b"P" + pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return data.decode("latin-1")


def _loads(text: str) -> Any:
    """What `_dumps` wrote; only ever this process's own spill files are read back."""
    data = text.encode("latin-1")
    loads = marshal.loads if data[:1] == b"M" else pickle.loads
    return loads(data[1:])


__all__ = ["END", "SEPARATOR", "Decoded", "encode", "escaped", "pack", "placed", "slices", "unescaped"]
