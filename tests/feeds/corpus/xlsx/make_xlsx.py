"""Writes products.xlsx beside this script: an ERP's spreadsheet export, as the corpus test reads it.

Run `python tests/feeds/corpus/xlsx/make_xlsx.py` after changing the rows below; the workbooks are
committed so the test needs no step of its own (tests/feeds/test_corpus.py checks they hold these rows). What makes it awkward, as real exports are: an
"Info" sheet first (the feed is the "Products" sheet, read by name), prices and weights as numbers
(19.9, not "19.90"), stock as integers, an EAN stored as a number, an empty cell for a missing
compare-at price, and one description of several thousand characters. bad_price.xlsx is the same
with the price an ERP writes for an item sold on request: text in a numeric column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent
IMAGES = "https://erp.nordlicht-outdoor.example/media/"

HEADER = ("Item No.", "Parent No.", "Description", "Long Text", "Brand", "Item Category", "Size", "Colour",
          "Unit Price", "RRP", "Inventory", "Net Weight (kg)", "EAN", "Picture")  # fmt: skip

LONG_TEXT = " ".join(
    [
        "Three-layer shell jacket for alpine tours: a 20,000 mm waterproof membrane, taped seams,",
        "two-way front zip, pit zips and a helmet-compatible hood with a laminated brim.",
    ]
    * 30
)

ROWS: list[tuple[object, ...]] = [
    ("NL-JKT-100-S-RED", "NL-JKT-100", "Alpine Shell Jacket", LONG_TEXT, "Nordlicht", "Jackets", "S", "Red",
     189.9, 229.0, 4, 0.48, 4061234500017, IMAGES + "jkt-100-red.jpg"),
    ("NL-JKT-100-M-RED", "NL-JKT-100", "Alpine Shell Jacket", LONG_TEXT, "Nordlicht", "Jackets", "M", "Red",
     189.9, 229.0, 7, 0.5, 4061234500024, IMAGES + "jkt-100-red.jpg"),
    ("NL-JKT-100-M-BLK", "NL-JKT-100", "Alpine Shell Jacket", LONG_TEXT, "Nordlicht", "Jackets", "M", "Black",
     199, None, 0, 0.5, 4061234500031, IMAGES + "jkt-100-black.jpg"),
    ("NL-BTL-750", None, "Insulated Bottle 0.75 l", "Double-walled stainless steel, keeps drinks hot for 12 hours.",
     "Nordlicht", "Accessories", None, None, 24.5, None, 120, 0.36, 4061234500109, IMAGES + "btl-750.jpg"),
    ("NL-SCK-2-39", "NL-SCK-2", "Merino Hiking Socks", "Merino wool blend, cushioned sole.", "Nordlicht", "Socks",
     "39-42", None, 16, 18, 35, 0.08, 4061234500208, IMAGES + "sck-2.jpg"),
    ("NL-SCK-2-43", "NL-SCK-2", "Merino Hiking Socks", "Merino wool blend, cushioned sole.", "Nordlicht", "Socks",
     "43-46", None, 16, 18, 22, 0.09, 4061234500215, IMAGES + "sck-2.jpg"),
]  # fmt: skip


# The bottle's price as an ERP writes it for an item sold on request.
BAD_ROWS: list[tuple[object, ...]] = [
    (*row[:8], "auf Anfrage", *row[9:]) if row[0] == "NL-BTL-750" else row for row in ROWS
]


def build(rows: list[tuple[object, ...]]) -> Workbook:
    """The workbook: the "Info" sheet an ERP writes first, then the "Products" sheet."""
    book = Workbook()
    info = book.active
    assert info is not None
    info.title = "Info"
    info.append(("Export", "Item master for the web shop"))
    info.append(("Created", dt.datetime(2026, 11, 30, 6, 0)))
    info.append(("Currency", "EUR"))
    products = book.create_sheet("Products")
    products.append(HEADER)
    for row in rows:
        products.append(row)
    return book


def main() -> None:
    build(ROWS).save(HERE / "products.xlsx")
    build(BAD_ROWS).save(HERE / "bad_price.xlsx")


if __name__ == "__main__":
    main()
