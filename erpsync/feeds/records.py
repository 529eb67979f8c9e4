"""What every format parser hands the mapping stage: batches of raw records, no per-row objects.

A CSV record is the list of cell strings (the batch carries the header); a JSON, JSON Lines or XML
record is a dict. Row numbers are those a merchant sees: for CSV the spreadsheet row (the header is
row 1), for the other formats the 1-based position of the record in the feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# A record as a parser yields it: cells of a CSV row, or a JSON/XML object.
Record = list[str] | dict[str, Any]

# The longest field a feed may hold, in characters of a CSV cell or bytes of a JSON string: real HTML
# descriptions run to hundreds of KB (more than the stdlib CSV reader's 128 KiB default), and a
# field beyond this means broken quoting, refused before it costs more memory.
MAX_FIELD_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Consecutive records of one feed; `columns` is the CSV header, None for keyed formats.

    `feed_rows`, on the first batch of a feed whose size is known, estimates the feed's row count,
    so the mapping stage can size its indexes once instead of rebuilding them as they fill.
    """

    columns: tuple[str, ...] | None
    first_row: int
    records: list[Any]
    feed_rows: int | None = None
    # Each record's row number, where they are not first_row, first_row + 1, ... (a feed regrouped).
    rows: Sequence[int] | None = None
    # Each record's first line in the file, where the format has lines (CSV, JSON Lines, XML).
    lines: Sequence[int | None] | None = None
    # Set by whoever put a CellProblem in a record: the mapper then takes the row path, which reports it.
    problems: bool = False

    def numbers(self) -> Sequence[int]:
        """Each record's row number: the batch's own, else consecutive from its first row."""
        return (
            self.rows if self.rows is not None else range(self.first_row, self.first_row + len(self.records))
        )

    def joined(self, batch: RecordBatch) -> RecordBatch:
        """These records followed by `batch`'s (the mapper holds a product's rows back for the next batch)."""
        records = self.records + batch.records
        problems = self.problems or batch.problems
        if self.rows is None and batch.rows is None and self.lines is None and batch.lines is None:
            return RecordBatch(batch.columns, self.first_row, records, batch.feed_rows, problems=problems)
        rows = [*self.numbers(), *batch.numbers()]
        lines = None
        if self.lines is not None or batch.lines is not None:
            # A record whose line is unknown holds None, so each keeps its own.
            lines = [
                *map(self.line_of, range(len(self.records))),
                *map(batch.line_of, range(len(batch.records))),
            ]
        return RecordBatch(batch.columns, self.first_row, records, batch.feed_rows, rows, lines, problems)

    def split(self, count: int) -> tuple[RecordBatch, RecordBatch]:
        """The batch without its last `count` records, and those records."""
        cut = len(self.records) - count
        numbers, lines, explicit = self.numbers(), self.lines, self.rows is not None
        kept = RecordBatch(
            self.columns, self.first_row, self.records[:cut], self.feed_rows,
            numbers[:cut] if explicit else None, None if lines is None else lines[:cut], self.problems,
        )  # fmt: skip
        rest = RecordBatch(
            self.columns, numbers[cut], self.records[cut:], None,
            numbers[cut:] if explicit else None, None if lines is None else lines[cut:], self.problems,
        )  # fmt: skip
        return kept, rest

    def row_of(self, index: int) -> int:
        """The row number of the record at `index`."""
        return self.rows[index] if self.rows is not None else self.first_row + index

    def line_of(self, index: int) -> int | None:
        """The file line of the record at `index`, if known."""
        return self.lines[index] if self.lines is not None and index < len(self.lines) else None


class CellProblem:
    """A cell a parser or a rule could not give a value for (too long, say): in place of the value,
    so that the mapping stage rejects that row with `message`, not the whole feed."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"CellProblem({self.message!r})"


class RecordParser(Protocol):
    """A push parser: bytes in, whole records out; `close` checks that the feed ended cleanly."""

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse more bytes; return the records they completed, if any."""
        ...

    def close(self) -> RecordBatch | None:
        """Signal the end of the bytes; return the last records or raise if the feed is truncated."""
        ...
