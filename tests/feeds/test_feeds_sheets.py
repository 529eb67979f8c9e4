"""XLSX and ODS feeds: the chosen sheet's rows, cells as a merchant sees them, the spreadsheet's row numbers."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from erpsync.feeds import FeedFormatError, FeedLayoutError, iter_records
from erpsync.feeds.reader import FeedDecoder
from erpsync.models import FeedFormat, FormatOptions


def xlsx(sheets: dict[str, list[list[Any]]]) -> bytes:
    """A workbook as openpyxl (the library Excel's own format is most often written with) writes it."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ods(sheets: dict[str, str]) -> bytes:
    """An ODS package after OpenDocument 1.2: `mimetype` stored first, the manifest, `content.xml`."""
    tables = "".join(
        f'<table:table table:name="{name}">{rows}</table:table>' for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def read(data: bytes, name: str, *, format: FeedFormat | None = None, **options: Any) -> list[Any]:
    """(row number, columns, record) for every record, the feed handed over in 1 KiB chunks."""
    chunks = [data[start : start + 1024] for start in range(0, len(data), 1024)]
    return [
        (batch.row_of(index), batch.columns, record)
        for batch in iter_records(chunks, name=name, format=format, options=FormatOptions(**options))
        for index, record in enumerate(batch.records)
    ]


PRODUCTS = [
    ["sku", "title", "price", "stock", "released", "active", "note"],
    ["A-1", "Mug", 12.5, 40, dt.datetime(2026, 3, 1), True, None],
    [],
    ["A-2", "Cup", 7, 0.1 + 0.2, dt.datetime(2026, 3, 1, 14, 30), False],
]


def test_xlsx_cells_read_as_a_merchant_sees_them() -> None:
    """Integers without ".0", dates ISO, the blank row skipped and counted, trailing empty cells dropped."""
    rows = read(xlsx({"Products": PRODUCTS}), "export.xlsx")
    columns = ("sku", "title", "price", "stock", "released", "active", "note")
    assert rows == [
        (2, columns, ["A-1", "Mug", "12.5", "40", "2026-03-01", "TRUE"]),
        (4, columns, ["A-2", "Cup", "7", "0.3", "2026-03-01T14:30:00", "FALSE"]),
    ]


def test_a_workbook_is_known_by_its_bytes_without_a_telling_name() -> None:
    data = xlsx({"Sheet1": [["sku"], ["A"]]})
    assert read(data, "download") == [(2, ("sku",), ["A"])]
    assert read(ods({"Sheet1": ROWS}), "download")[0][2] == ["B-1", "Teller", "4.95", "2026-05-01"]


@pytest.mark.parametrize("sheet", ["Variants", 1])
def test_the_sheet_is_chosen_by_name_or_index(sheet: str | int) -> None:
    data = xlsx({"Products": [["sku"], ["P"]], "Variants": [["sku", "size"], ["V-1", "M"]]})
    assert read(data, "feed.xlsx", sheet=sheet) == [(2, ("sku", "size"), ["V-1", "M"])]


@pytest.mark.parametrize(("kind", "sheet"), [("xlsx", "Produkte"), ("ods", "Produkte"), ("xlsx", 5)])
def test_a_missing_sheet_names_the_workbooks_sheets(kind: FeedFormat, sheet: str | int) -> None:
    data = (
        xlsx({"Sheet1": [["sku"]], "Variants": [["sku"]]})
        if kind == "xlsx"
        else ods({"Sheet1": "", "Variants": ""})
    )
    with pytest.raises(FeedLayoutError) as caught:
        read(data, f"feed.{kind}", sheet=sheet)
    assert caught.value.reason == f"sheet {sheet!r} not found; the workbook has: Sheet1, Variants"


def test_a_file_that_is_not_a_workbook_is_refused() -> None:
    with pytest.raises(FeedFormatError, match="not XLSX"):
        read(b"sku,title\nA,b\n", "feed.xlsx")


T = 'office:value-type="string"'
ROWS = (
    "<table:table-row>"
    f"<table:table-cell {T}><text:p>sku</text:p></table:table-cell>"
    f"<table:table-cell {T}><text:p>title</text:p></table:table-cell>"
    f"<table:table-cell {T}><text:p>price</text:p></table:table-cell>"
    f"<table:table-cell {T}><text:p>released</text:p></table:table-cell>"
    "</table:table-row>"
    '<table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>'
    "<table:table-row>"
    f"<table:table-cell {T}><text:p>B-1</text:p></table:table-cell>"
    f"<table:table-cell {T}><text:p>Teller</text:p></table:table-cell>"
    '<table:table-cell office:value-type="currency" office:currency="EUR" office:value="4.95">'
    "<text:p>4,95 €</text:p></table:table-cell>"
    '<table:table-cell office:value-type="date" office:date-value="2026-05-01"><text:p>01.05.26</text:p>'
    "</table:table-cell>"
    '<table:table-cell table:number-columns-repeated="1020"/>'
    "</table:table-row>"
    "<table:table-row>"
    f"<table:table-cell {T}><text:p>B-2</text:p></table:table-cell>"
    f"<table:table-cell {T}><text:p>Zwei<text:s text:c='2'/>Leer</text:p><text:p>Zeile</text:p></table:table-cell>"
    '<table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p></table:table-cell>'
    "</table:table-row>"
    '<table:table-row table:number-rows-repeated="1048571"><table:table-cell table:number-columns-repeated="1024"/>'
    "</table:table-row>"
)


def test_ods_rows_with_repeats_spaces_and_values() -> None:
    """The stored value, not the formatted text, for numbers and dates; repeated blank rows counted."""
    rows = read(ods({"Tabelle1": ROWS}), "feed.ods")
    columns = ("sku", "title", "price", "released")
    assert rows == [
        (4, columns, ["B-1", "Teller", "4.95", "2026-05-01"]),
        (5, columns, ["B-2", "Zwei  Leer\nZeile", "12"]),
    ]


def test_an_oversized_cell_rejects_its_row_only() -> None:
    data = xlsx({"S": [["sku", "body"], ["A", "x" * 3000], ["B", "fine"]]})
    rows = read(data, "feed.xlsx", max_cell_size=1024)
    assert (
        repr(rows[0][2][1]) == "CellProblem('is 3000 characters, over format_options.max_cell_size (1024)')"
    )
    assert rows[1][2] == ["B", "fine"]


def test_batches_come_lazily_and_the_spool_is_removed(tmp_path: Path) -> None:
    """The end of the feed hands batches over one at a time, and the temporary copy goes after."""
    data = xlsx({"S": [["sku"], *([f"S{index}"] for index in range(1200))]})
    decoder = FeedDecoder(name="feed.xlsx", format=None, options=FormatOptions(), spool_dir=str(tmp_path))
    assert list(decoder.feed(data)) == []
    rest = decoder.close()
    first = next(rest)
    assert (first.row_of(0), first.records[0]) == (2, ["S0"])
    assert sum(len(batch.records) for batch in rest) == 1200 - len(first.records)
    assert list(tmp_path.iterdir()) == []


def test_a_gzipped_workbook_is_decompressed_first() -> None:
    data = gzip.compress(xlsx({"S": [["sku"], ["G-1"]]}))
    assert read(data, "export.xlsx.gz") == [(2, ("sku",), ["G-1"])]
