"""CSV records, streamed: decode incrementally, cut at record boundaries, split into cells.

Each chunk is cut after its last line break that lies outside quotes (an even number of quote
characters before it), so a quoted field holding a line break is never split. The text held over
from earlier chunks has no such break, so only the new chunk is searched: a long record costs its
length once, not once per chunk. The records are then split by `erpsync._speedups.split_records`,
which gives what `csv.reader` gives in under half its time; where that C module was not built, or
the text is one the stdlib reader refuses (its error is the one reported), `csv.reader` itself
splits them. Blank lines are skipped.

A cell may hold up to `format_options.max_cell_size` characters (8 MiB by default, far past the stdlib
reader's 128 KiB default, which real HTML descriptions exceed). A longer one is rare: the C splitter
then gives up on that batch, which the stdlib reader splits instead, and the cell becomes a
CellProblem that rejects its row only. A record still open past `MAX_RECORD_CHARS` (or twice the cell
limit) is broken quoting, fatal for the feed.

Each batch carries its records' first lines in the file where they are not their row numbers: a
quoted cell holding line breaks moves every later record down a line or more.
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
from typing import Any

from erpsync import speedups
from erpsync.feeds.cells import oversized
from erpsync.feeds.errors import FeedEncodingError, FeedFormatError
from erpsync.feeds.records import MAX_FIELD_SIZE, RecordBatch

# A record still open after this many characters means the quoting is broken, not a big cell.
MAX_RECORD_CHARS = 16 * 1024 * 1024


class CsvParser:
    """Push parser for delimited text; yields lists of cell strings with the header alongside."""

    def __init__(
        self,
        *,
        feed: str,
        delimiter: str = ",",
        quotechar: str = '"',
        encoding: str = "utf-8",
        has_header: bool = True,
        max_cell_size: int = MAX_FIELD_SIZE,
    ) -> None:
        self._feed = feed
        self._limit = max_cell_size
        self._max_record = max(MAX_RECORD_CHARS, 2 * max_cell_size)
        self._delimiter = delimiter
        self._quotechar = quotechar
        self._encoding = encoding
        codec = codecs.lookup(encoding).name
        # utf-8-sig reads plain UTF-8 too, and drops the BOM that spreadsheet exports put first.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig" if codec == "utf-8" else codec)("strict")
        self._has_header = has_header
        self._columns: tuple[str, ...] | None = None
        # The text after the last cut, in pieces, with its length, quote count and whether it has a "\n".
        self._pending: list[str] = []
        self._pending_chars = self._pending_quotes = 0
        self._pending_newline = False
        self._offset = 0
        self._next_row = 2 if has_header else 1
        # The file line the next record starts on (the header's, before it is read).
        self._next_line = 1

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The header's column names (or "1", "2", ... without a header), once known."""
        return self._columns

    def feed(self, data: bytes) -> RecordBatch | None:
        """Decode a chunk and parse the records it completes."""
        text = self._decode(data, final=False)
        cut = self._record_boundary(text)
        if cut == 0:
            self._hold(text)
            return None
        records = self._take_pending(text[:cut])
        self._hold(text[cut:])
        return self._parse(records)

    def close(self) -> RecordBatch | None:
        """Parse the last record, which may lack a final line break."""
        text = self._take_pending(self._decode(b"", final=True))
        if not text:
            return None
        if text.count(self._quotechar) % 2:
            raise FeedFormatError(self._feed, f"the file ends inside a quoted field (row {self._next_row})")
        return self._parse(text)

    def _decode(self, data: bytes, *, final: bool) -> str:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise FeedEncodingError(
                self._feed,
                f"byte {self._offset + max(exc.start, 0)} is not valid {self._encoding} "
                "(set format_options.encoding, e.g. cp1252 or latin-1)",
            ) from exc
        self._offset += len(data)
        return text

    def _hold(self, text: str) -> None:
        """Keep `text` for the next chunk; a record this long means the quoting is broken."""
        if not text:
            return
        self._pending.append(text)
        self._pending_chars += len(text)
        self._pending_quotes += text.count(self._quotechar)
        self._pending_newline = self._pending_newline or "\n" in text
        if self._pending_chars > self._max_record:
            raise FeedFormatError(
                self._feed, f"a record near row {self._next_row} never ends (unbalanced quotes?)"
            )

    def _take_pending(self, text: str) -> str:
        """The held text followed by `text`; nothing is held after."""
        if not self._pending:
            return text
        whole = "".join([*self._pending, text])
        self._pending = []
        self._pending_chars = self._pending_quotes = 0
        self._pending_newline = False
        return whole

    def _record_boundary(self, text: str) -> int:
        """Offset in `text` just after its last line break outside quotes (counting the held text's
        quotes before it), 0 if there is none yet."""
        quote = self._quotechar
        newline = "\n" if self._pending_newline or "\n" in text else "\r"
        # Walk back from quote to quote: the text between two has one parity, so each stretch outside
        # quotes is searched once, whatever number of line breaks the quoted ones hold.
        quotes = self._pending_quotes + text.count(quote)
        end = len(text)
        while True:
            before = text.rfind(quote, 0, end)
            if quotes % 2 == 0 and (position := text.rfind(newline, before + 1, end)) >= 0:
                return position + 1
            if before < 0:
                return 0
            end, quotes = before, quotes - 1

    def _read(self, text: str) -> list[list[Any]]:
        """The stdlib reader's records, cells past the cell limit as CellProblems; its errors."""
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self._delimiter, quotechar=self._quotechar
        )
        # The stdlib's limit is process-wide: set to the feeds' own for this read only.
        previous = csv.field_size_limit(self._max_record)
        try:
            records: list[list[Any]] = list(filter(None, reader))  # blank lines give empty rows
        except csv.Error as exc:
            raise FeedFormatError(self._feed, f"not valid CSV near row {self._next_row} ({exc})") from exc
        finally:
            csv.field_size_limit(previous)
        limit = self._limit
        for record in records:
            if max(map(len, record)) > limit:
                record[:] = [oversized(len(cell), limit) if len(cell) > limit else cell for cell in record]
        return records

    def _parse(self, text: str) -> RecordBatch | None:
        records: list[list[Any]] | None = None
        if speedups.split_records is not None:
            records = speedups.split_records(text, self._delimiter, self._quotechar, self._limit)
        if records is None:
            records = self._read(text)
        newline = "\n"
        if not (newlines := text.count(newline)):
            newline = "\r"
            newlines = text.count(newline)
        lines = self._lines_of(records, newlines, newline)
        if self._columns is None:
            if self._has_header:
                if not records:
                    return None
                self._columns = tuple(name.strip() for name in records[0])
                records = records[1:]
                lines = lines[1:] if lines is not None else None
            elif records:
                self._columns = tuple(str(index) for index in range(1, len(records[0]) + 1))
        if not records:
            return None
        first_row = self._next_row
        self._next_row += len(records)
        return RecordBatch(self._columns, first_row, records, lines=lines)

    def _lines_of(self, records: list[list[Any]], newlines: int, newline: str) -> list[int] | None:
        """Each record's first line, None while every record is one line and lines equal rows."""
        line = self._next_line
        self._next_line += newlines
        header = 1 if self._columns is None and self._has_header else 0
        if newlines == len(records) and line == self._next_row - header:
            return None
        count = operator.methodcaller("count", newline)
        lines: list[int] = []
        for record in records:
            lines.append(line)
            line += 1 + sum(map(count, filter(_is_text, record)))
        return lines


def _is_text(cell: object) -> bool:
    return isinstance(cell, str)
