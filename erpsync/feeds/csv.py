"""CSV records, streamed: decode incrementally, cut at record boundaries, split into cells.

Each chunk is cut after its last line break that lies outside quotes (an even number of quote
characters before it), so a quoted field holding a line break is never split. The records are then
split by `erpsync._speedups.split_records`, which gives what `csv.reader` gives in under half its
time; where that C module was not built, or the text is one the stdlib reader refuses (its error is
the one reported), `csv.reader` itself splits them. Blank lines are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io

from erpsync import speedups
from erpsync.feeds.errors import FeedEncodingError, FeedFormatError
from erpsync.feeds.records import RecordBatch

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
    ) -> None:
        self._feed = feed
        self._delimiter = delimiter
        self._quotechar = quotechar
        self._encoding = encoding
        codec = codecs.lookup(encoding).name
        # utf-8-sig reads plain UTF-8 too, and drops the BOM that spreadsheet exports put first.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig" if codec == "utf-8" else codec)("strict")
        self._has_header = has_header
        self._columns: tuple[str, ...] | None = None
        self._pending = ""
        self._offset = 0
        self._next_row = 2 if has_header else 1

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The header's column names (or "1", "2", ... without a header), once known."""
        return self._columns

    def feed(self, data: bytes) -> RecordBatch | None:
        """Decode a chunk and parse the records it completes."""
        text = self._pending + self._decode(data, final=False)
        cut = self._record_boundary(text)
        if cut == 0:
            if len(text) > MAX_RECORD_CHARS:
                raise FeedFormatError(
                    self._feed, f"a record near row {self._next_row} never ends (unbalanced quotes?)"
                )
            self._pending = text
            return None
        self._pending = text[cut:]
        return self._parse(text[:cut])

    def close(self) -> RecordBatch | None:
        """Parse the last record, which may lack a final line break."""
        text = self._pending + self._decode(b"", final=True)
        self._pending = ""
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

    def _record_boundary(self, text: str) -> int:
        """Offset just after the last line break outside quotes, 0 if there is none yet."""
        quotes_total = text.count(self._quotechar)
        end = len(text)
        newline = "\n" if "\n" in text else "\r"
        # Usually the first candidate works; quoted line breaks near the end need a few steps back.
        while True:
            position = text.rfind(newline, 0, end)
            if position < 0:
                return 0
            cut = position + 1
            if (quotes_total - text.count(self._quotechar, cut)) % 2 == 0:
                return cut
            end = position

    def _read(self, text: str) -> list[list[str]]:
        """The stdlib reader's records: the reference `split_records` matches, and its errors."""
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=self._delimiter, quotechar=self._quotechar
        )
        try:
            return list(filter(None, reader))  # blank lines give empty rows
        except csv.Error as exc:
            raise FeedFormatError(self._feed, f"not valid CSV near row {self._next_row} ({exc})") from exc

    def _parse(self, text: str) -> RecordBatch | None:
        records = None
        if speedups.split_records is not None:
            records = speedups.split_records(text, self._delimiter, self._quotechar, csv.field_size_limit())
        if records is None:
            records = self._read(text)
        if self._columns is None:
            if self._has_header:
                if not records:
                    return None
                self._columns = tuple(name.strip() for name in records[0])
                records = records[1:]
            elif records:
                self._columns = tuple(str(index) for index in range(1, len(records[0]) + 1))
        if not records:
            return None
        first_row = self._next_row
        self._next_row += len(records)
        return RecordBatch(self._columns, first_row, records)
