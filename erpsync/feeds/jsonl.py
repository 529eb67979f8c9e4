"""JSON Lines records, streamed: one JSON value per line, blank lines skipped.

A line that does not parse is fatal (a truncated or corrupt export), never a silently skipped row;
so is a line longer than a JSON array's largest element. A line cut by chunks is held in pieces and
joined once, so a long one costs its length, not its length once per chunk. A string longer than
`max_cell_size` becomes a CellProblem that rejects its record only. Batches carry each record's line
where blank lines make it differ from the row.
"""

from __future__ import annotations

from typing import Any

import orjson

from erpsync.feeds.cells import cap_strings
from erpsync.feeds.errors import FeedFormatError
from erpsync.feeds.json import MAX_ELEMENT_BYTES
from erpsync.feeds.records import MAX_FIELD_SIZE, RecordBatch


class JsonLinesParser:
    """Push parser: every complete line becomes one record."""

    def __init__(self, *, feed: str, max_cell_size: int = MAX_FIELD_SIZE) -> None:
        self._feed = feed
        self._limit = max_cell_size
        self._next_line = 1
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._next_row = 1
        self._first = True

    def feed(self, data: bytes) -> RecordBatch | None:
        """Parse the complete lines in `data` and the carried-over partial line."""
        if self._first:
            data = data.removeprefix(b"\xef\xbb\xbf")
            self._first = False
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return None
        lines = self._take_pending(data[:cut]).split(b"\n")
        self._hold(data[cut + 1 :])
        return self._parse(lines)

    def close(self) -> RecordBatch | None:
        """Parse a last line that has no line break after it."""
        pending = self._take_pending(b"")
        return self._parse([pending]) if pending.strip() else None

    def _hold(self, data: bytes) -> None:
        if not data:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes > MAX_ELEMENT_BYTES:
            raise FeedFormatError(
                self._feed,
                f"record {self._next_row} is a line longer than {MAX_ELEMENT_BYTES:,} bytes "
                "(no line breaks between records?)",
            )

    def _take_pending(self, data: bytes) -> bytes:
        if not self._pending:
            return data
        line = b"".join([*self._pending, data])
        self._pending, self._pending_bytes = [], 0
        return line

    def _parse(self, lines: list[bytes]) -> RecordBatch | None:
        loads = orjson.loads
        present = list(filter(None, lines))
        try:
            records: list[Any] = list(map(loads, present))
        except orjson.JSONDecodeError:
            records = self._parse_carefully(lines)
            present = [line for line in lines if line.strip()]
        first_line = self._next_line
        self._next_line += len(lines)
        if not records:
            return None
        if max(map(len, present)) > self._limit:
            records = [cap_strings(record, self._limit) for record in records]
        numbers = None
        if len(present) != len(lines) or first_line != self._next_row:
            numbers = [number for number, line in enumerate(lines, first_line) if line.strip()]
        first = self._next_row
        self._next_row += len(records)
        return RecordBatch(None, first, records, lines=numbers)

    def _parse_carefully(self, lines: list[bytes]) -> list[Any]:
        """Line by line, so whitespace-only lines are skipped and a bad line is named."""
        records: list[Any] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                row = self._next_row + len(records)
                raise FeedFormatError(self._feed, f"record {row} is not valid JSON ({exc})") from exc
        return records
