"""ODS sheets read row by row from the workbook's `content.xml` (OpenDocument 1.2, part 1, 9.1).

The stdlib's incremental parser walks the XML; each row is turned into values and dropped from the
tree at once, so memory holds one row. ElementTree never loads an external entity or DTD, and the
expat it runs on (2.4.1 and later, bundled with every supported Python) stops entity amplification
("billion laughs"); defusedxml is not used, as its pure-Python parser would slow openpyxl (which
picks it up whenever it is installed) about threefold. Repeated rows and cells (`table:number-rows-repeated`,
`table:number-columns-repeated`) are expanded, except the empty runs LibreOffice writes to fill a
sheet out to its last row or column, which are counted, not built.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, iterparse

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_SHEET = f"{{{_TABLE}}}table"
_ROW = f"{{{_TABLE}}}table-row"
_CELLS = (f"{{{_TABLE}}}table-cell", f"{{{_TABLE}}}covered-table-cell")
_NAME = f"{{{_TABLE}}}name"
_ROWS_REPEATED = f"{{{_TABLE}}}number-rows-repeated"
_COLUMNS_REPEATED = f"{{{_TABLE}}}number-columns-repeated"
_VALUE_TYPE = f"{{{_OFFICE}}}value-type"
_PARAGRAPH = f"{{{_TEXT}}}p"
_SPACES, _TAB, _BREAK = f"{{{_TEXT}}}s", f"{{{_TEXT}}}tab", f"{{{_TEXT}}}line-break"
_NUMERIC = ("float", "percentage", "currency")


def ods_sheet_names(archive: zipfile.ZipFile) -> list[str]:
    """Every sheet's name, in workbook order (a walk over `content.xml` that keeps nothing)."""
    names: list[str] = []
    with archive.open("content.xml") as source:
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314 - see the docstring
            if event == "start" and element.tag == _SHEET:
                names.append(element.get(_NAME, ""))
            elif event == "end" and element.tag == _ROW:
                element.clear()
    return names


def ods_rows(archive: zipfile.ZipFile, sheet: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The named sheet's rows as (spreadsheet row number, cell values); blank rows are left out."""
    number = 0
    inside = False
    stack: list[Element] = []
    with archive.open("content.xml") as source:
        for event, element in iterparse(source, events=("start", "end")):  # noqa: S314 - see the docstring
            if event == "start":
                stack.append(element)
                if element.tag == _SHEET:
                    inside = element.get(_NAME) == sheet
                continue
            stack.pop()
            if element.tag == _SHEET and inside:
                return
            if element.tag != _ROW or not inside:
                continue
            repeat = int(element.get(_ROWS_REPEATED, "1"))
            values = _row_values(element)
            if stack:
                stack[-1].remove(element)
            if not values:
                number += repeat
                continue
            for _ in range(repeat):
                number += 1
                yield number, values


def _row_values(row: Element) -> tuple[Any, ...]:
    values: list[Any] = []
    for cell in row:
        if cell.tag not in _CELLS:
            continue
        value = _cell_value(cell)
        repeat = int(cell.get(_COLUMNS_REPEATED, "1"))
        values.extend([value] * repeat if value != "" or repeat < 1024 else [""])
    while values and values[-1] == "":
        values.pop()
    return tuple(values)


def _cell_value(cell: Element) -> Any:
    """The value the cell stores: a number as int or float, a date as ISO text, else its text."""
    kind = cell.get(_VALUE_TYPE)
    if kind in _NUMERIC:
        number = float(cell.get(f"{{{_OFFICE}}}value", "0"))
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    if kind == "date":
        return cell.get(f"{{{_OFFICE}}}date-value", "").removesuffix("T00:00:00")
    if kind == "boolean":
        return cell.get(f"{{{_OFFICE}}}boolean-value") == "true"
    return "\n".join(_text(paragraph) for paragraph in cell.iter(_PARAGRAPH))


def _text(element: Element) -> str:
    """A paragraph's text, with `<text:s>`, `<text:tab>` and `<text:line-break>` as what they stand for."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _SPACES:
            parts.append(" " * int(child.get(f"{{{_TEXT}}}c", "1")))
        elif child.tag == _TAB:
            parts.append("\t")
        elif child.tag == _BREAK:
            parts.append("\n")
        else:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
