"""XLSX and ODS feeds: one sheet's rows as CSV-like records, the first row the header.

A workbook is a zip, which needs random access, so the feed's bytes are spooled to a temporary file
(the system temp dir, or the one given) and read when they are all in; the rows are then handed on
lazily, a batch at a time, so a 200,000-row sheet never sits in memory whole.

Reader: openpyxl in read-only mode. It parses the sheet's XML incrementally and yields one row at a
time, so memory stays flat whatever the row count (only the workbook's shared strings table is held
whole). python-calamine is several times faster, but calamine reads the whole sheet into a Rust range
before the first row is returned (its `iter_rows` iterates that loaded range; lazy loading is not in
the Rust crate), so its memory grows with the sheet. openpyxl does not read ODS: an ODS sheet's
`content.xml` is walked here with the stdlib's incremental XML parser, each row dropped once read.

Cells become the text a merchant sees: integers without ".0", other numbers at Excel's 15 significant
digits, dates and times in ISO 8601, booleans TRUE/FALSE; formulas give their cached results. Blank
rows are skipped; row numbers are the spreadsheet's. `format_options.sheet` picks a sheet by name or
0-based index (default the first); one that does not exist is a FeedLayoutError naming the sheets.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from erpsync.feeds.cells import names_shown, oversized
from erpsync.feeds.errors import FeedFormatError, FeedLayoutError
from erpsync.feeds.ods import ods_rows, ods_sheet_names
from erpsync.feeds.records import MAX_FIELD_SIZE, RecordBatch
from erpsync.models import FeedFormat

# Rows per batch: about what a 32 KiB CSV piece holds.
BATCH_ROWS = 500


def cell_text(value: Any) -> str:
    """A cell value as the text a merchant sees in the spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class SheetParser:
    """Spools the workbook's bytes; `batches` reads the chosen sheet once they are all in."""

    def __init__(
        self,
        *,
        feed: str,
        kind: FeedFormat,
        sheet: str | int | None = None,
        has_header: bool = True,
        max_cell_size: int = MAX_FIELD_SIZE,
        spool_dir: str | None = None,
    ) -> None:
        self._feed = feed
        self._kind = kind
        self._sheet = sheet
        self._has_header = has_header
        self._limit = max_cell_size
        self._file: IO[bytes] = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - closed by batches

    def feed(self, data: bytes) -> None:
        """Keep the bytes for later: a zip cannot be read from the front."""
        self._file.write(data)

    def close(self) -> None:
        """Nothing to flush: the rows come from `batches`."""

    def batches(self) -> Iterator[RecordBatch]:
        """The sheet's records, a batch at a time; the spooled file is removed after."""
        try:
            self._file.seek(0)
            try:
                archive = zipfile.ZipFile(self._file)
            except zipfile.BadZipFile as exc:
                raise FeedFormatError(self._feed, f"not an {self._kind.upper()} workbook ({exc})") from exc
            with archive:
                rows = self._ods_rows(archive) if self._kind == "ods" else self._xlsx_rows()
                yield from self._batched(rows)
        finally:
            self._file.close()

    def _missing(self, names: list[str]) -> FeedLayoutError:
        return FeedLayoutError(
            self._feed, f"sheet {self._sheet!r} not found; the workbook has: {names_shown(names)}"
        )

    def _pick(self, names: list[str]) -> str:
        """The sheet's name from `format_options.sheet` (a name, or a 0-based index)."""
        sheet = self._sheet
        if sheet is None:
            if not names:
                raise self._missing(names)
            return names[0]
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise self._missing(names)
            return names[sheet]
        if sheet not in names:
            raise self._missing(names)
        return sheet

    def _xlsx_rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        import openpyxl

        try:
            book = openpyxl.load_workbook(self._file, read_only=True, data_only=True)
        except (KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
            raise FeedFormatError(self._feed, f"not a readable XLSX workbook ({exc})") from exc
        try:
            sheet = book[self._pick(book.sheetnames)]
            sheet.reset_dimensions()  # trust the rows the sheet has, not the size it claims
            yield from enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
        finally:
            book.close()

    def _ods_rows(self, archive: zipfile.ZipFile) -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            names = ods_sheet_names(archive)
        except (KeyError, SyntaxError) as exc:
            raise FeedFormatError(self._feed, f"not a readable ODS workbook ({exc})") from exc
        yield from ods_rows(archive, self._pick(names))

    def _batched(self, rows: Iterator[tuple[int, tuple[Any, ...]]]) -> Iterator[RecordBatch]:
        columns: tuple[str, ...] | None = None
        records: list[list[Any]] = []
        numbers: list[int] = []
        for number, values in rows:
            cells = self._cells(values)
            if not cells:
                continue
            if columns is None:
                if self._has_header:
                    columns = tuple(str(cell).strip() for cell in cells)
                    continue
                columns = tuple(str(index) for index in range(1, len(cells) + 1))
            records.append(cells)
            numbers.append(number)
            if len(records) >= BATCH_ROWS:
                yield RecordBatch(columns, numbers[0], records, rows=numbers)
                records, numbers = [], []
        if records:
            yield RecordBatch(columns, numbers[0], records, rows=numbers)

    def _cells(self, values: tuple[Any, ...]) -> list[Any]:
        """A row's cells as text, trailing empty ones dropped (the mapping pads short rows)."""
        cells: list[Any] = [cell_text(value) for value in values]
        while cells and cells[-1] == "":
            cells.pop()
        limit = self._limit
        for index, text in enumerate(cells):
            if len(text) > limit:
                cells[index] = oversized(len(text), limit)
        return cells
