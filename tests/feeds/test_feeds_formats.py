"""Formats: CSV, JSON, JSON Lines and XML records, with every format option, at any chunk size."""

from __future__ import annotations

import gzip
import io
import zipfile
from typing import Any

import orjson
import pytest
from feed_support import parse_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from erpsync.feeds.detect import format_from_name, sniff_format
from erpsync.feeds.json import JsonArrayParser

CHUNK_SIZES = [1, 3, 64, 1 << 18]

CSV_CASES: list[tuple[str, bytes, dict[str, Any], tuple[str, ...] | None, list[list[str]]]] = [
    ("comma", b"sku,name\nA,x\nB,y\n", {}, ("sku", "name"), [["A", "x"], ["B", "y"]]),
    ("semicolon", b"sku;name\nA;x,1\n", {"delimiter": ";"}, ("sku", "name"), [["A", "x,1"]]),
    ("tab", b"sku\tname\nA\tx\n", {"delimiter": "\t"}, ("sku", "name"), [["A", "x"]]),
    ("pipe", b"sku|name\nA|x\n", {"delimiter": "|"}, ("sku", "name"), [["A", "x"]]),
    ("crlf", b"sku,name\r\nA,x\r\nB,y", {}, ("sku", "name"), [["A", "x"], ["B", "y"]]),
    ("quoted newline", b'sku,name\nA,"two\nlines"\n', {}, ("sku", "name"), [["A", "two\nlines"]]),
    ("escaped quote", b'sku,name\nA,"5"" disc"\n', {}, ("sku", "name"), [["A", '5" disc']]),
    ("single quote char", b"sku,name\nA,'x,y'\n", {"quotechar": "'"}, ("sku", "name"), [["A", "x,y"]]),
    ("utf-8 bom", "\ufeffsku,name\nA,Größe\n".encode(), {}, ("sku", "name"), [["A", "Größe"]]),
    ("utf-8", "sku,name\nA,€ 5\n".encode(), {"encoding": "utf-8"}, ("sku", "name"), [["A", "€ 5"]]),
    ("cp1252", "sku,name\nA,“€”\n".encode("cp1252"), {"encoding": "cp1252"}, ("sku", "name"), [["A", "“€”"]]),
    (
        "latin-1",
        "sku,name\nA,Ærø\n".encode("latin-1"),
        {"encoding": "latin-1"},
        ("sku", "name"),
        [["A", "Ærø"]],
    ),
    ("no header", b"A,x\nB,y\n", {"has_header": False}, ("1", "2"), [["A", "x"], ["B", "y"]]),
    ("blank lines", b"sku,name\n\nA,x\n\n", {}, ("sku", "name"), [["A", "x"]]),
    ("header spaces", b" sku , name \nA,x\n", {}, ("sku", "name"), [["A", "x"]]),
    ("header only", b"sku,name\n", {}, None, []),
    ("empty", b"", {}, None, []),
]


@pytest.mark.usefixtures("speedups")
@pytest.mark.parametrize("chunk", CHUNK_SIZES)
@pytest.mark.parametrize(
    ("label", "data", "options", "columns", "rows"), CSV_CASES, ids=[c[0] for c in CSV_CASES]
)
def test_feeds_csv_options(
    *,
    label: str,
    data: bytes,
    options: dict[str, Any],
    columns: tuple[str, ...] | None,
    rows: list[list[str]],
    chunk: int,
) -> None:
    """Each CSV dialect an ERP exports reads to the same cells; otherwise products get garbled fields."""
    got_columns, records = parse_bytes(data, "feed.csv", chunk=chunk, **options)
    assert records == rows
    assert got_columns == columns


@pytest.mark.usefixtures("speedups")
def test_feeds_csv_row_numbers_count_the_header() -> None:
    """Row numbers match the spreadsheet (header = row 1), so a merchant finds the row an error names."""
    from erpsync.feeds import iter_records
    from erpsync.models import FormatOptions

    chunks = [b"sku\n", b"A\n" * 3000, b"B\nC\n"]
    numbered = [
        (batch.first_row + offset, record[0])
        for batch in iter_records(chunks, name="f.csv", format=None, options=FormatOptions())
        for offset, record in enumerate(batch.records)
    ]
    assert numbered[0] == (2, "A")
    assert numbered[-2:] == [(3002, "B"), (3003, "C")]


RECORDS = [
    {
        "sku": "A-1",
        "name": 'Tee "big" },{ [x]',
        "price": 19.9,
        "tags": ["a", "b"],
        "attrs": {"size": {"eu": 42}},
    },
    {"sku": "B-2", "name": "Mug\\", "price": "5", "tags": [], "attrs": {}},
    {"sku": "C-3", "name": "Ünïcödé ✓", "price": None, "nested": [{"a": {"b": "}"}}, [1, [2]]]},
]

JSON_CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    ("top-level array", orjson.dumps(RECORDS), {}),
    ("pretty printed", orjson.dumps(RECORDS, option=orjson.OPT_INDENT_2), {}),
    ("records_path", orjson.dumps({"meta": {"n": [1, {"x": "]"}]}, "items": RECORDS, "after": {"y": 1}}),
     {"records_path": "items"}),
    ("nested records_path", orjson.dumps({"data": {"catalog": {"products": RECORDS}}}),
     {"records_path": "data.catalog.products"}),
    ("bom and whitespace", b"\xef\xbb\xbf \n" + orjson.dumps(RECORDS) + b"\n ", {}),
]  # fmt: skip


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
@pytest.mark.parametrize(("label", "data", "options"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_feeds_json_streamed(label: str, data: bytes, options: dict[str, Any], chunk: int) -> None:
    """A JSON array is read element by element wherever it sits, whatever the chunking; else records go missing."""
    _, records = parse_bytes(data, "feed.json", chunk=chunk, **options)
    assert records == RECORDS


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
@pytest.mark.parametrize("indent", [False, True])
def test_feeds_json_flat_records_in_few_chunks(chunk: int, *, indent: bool) -> None:
    """Plain flat objects (the common export) keep their last record whatever the chunking."""
    flat = [{"sku": f"S{index}", "price": "1.00"} for index in range(500)]
    data = orjson.dumps(flat, option=orjson.OPT_INDENT_2 if indent else 0)
    assert parse_bytes(data, "feed.json", chunk=chunk)[1] == flat
    wrapped = orjson.dumps({"items": flat, "count": 500})
    assert parse_bytes(wrapped, "feed.json", chunk=chunk, records_path="items")[1] == flat


def test_feeds_json_array_of_scalars_and_empty() -> None:
    """Arrays of non-objects and empty arrays parse exactly; the mapping, not the parser, rejects them."""
    assert parse_bytes(b'[1, "a,]", [2, 3], null]', "f.json", chunk=2)[1] == [1, "a,]", [2, 3], None]
    assert parse_bytes(b"[ ]", "f.json")[1] == []
    assert parse_bytes(b'{"items": []}', "f.json", records_path="items")[1] == []


_TRICKY = st.lists(
    st.sampled_from(["a", "é", " ", '"', "\\", '\\"', "}", "{", "},{", "[", "]", ",", ":"]), max_size=12
)
_TEXT = _TRICKY.map("".join)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.dictionaries(_TEXT, _VALUES, max_size=4), max_size=5),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
    wrapped=st.booleans(),
    indent=st.booleans(),
)
def test_feeds_json_records_wherever_chunks_cut_their_strings(
    records: list[dict[str, Any]], cuts: list[int], *, wrapped: bool, indent: bool
) -> None:
    """Strings full of quotes, backslashes and brackets read the same wherever a chunk ends inside
    them, before, in and after the records array: a cut string is resumed where its scan stopped,
    and a parser that lost its place there would garble or drop records."""
    document: Any = {"meta": {"k\\": '"]'}, "items": records, "after": ["}"]} if wrapped else records
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 if indent else 0)
    ends = sorted({cut % (len(data) + 1) for cut in cuts} | {len(data)})
    parser = JsonArrayParser(feed="feed.json", records_path="items" if wrapped else None)
    read: list[Any] = []
    for start, end in zip([0, *ends], ends, strict=False):
        batch = parser.feed(data[start:end])
        read.extend(batch.records if batch else [])
    last = parser.close()
    assert read + (last.records if last else []) == records


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_feeds_jsonl(chunk: int) -> None:
    """JSON Lines with blank lines, CRLF and no final newline gives every record once."""
    data = (
        b"\r\n".join(orjson.dumps(record) for record in RECORDS[:2]) + b"\r\n\r\n" + orjson.dumps(RECORDS[2])
    )
    assert parse_bytes(data, "feed.jsonl", chunk=chunk)[1] == RECORDS


XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<catalog version="2">
  <meta><generated>today</generated></meta>
  <items>
    <item id="1" type="simple">
      <sku>A-1</sku>
      <name>Tee &amp; more</name>
      <image>a.jpg</image><image>b.jpg</image>
      <pricing><net currency="EUR">19.90</net></pricing>
      <note><![CDATA[<b>bold</b>]]></note>
    </item>
    <item id="2"><sku>B-2</sku><empty/></item>
  </items>
</catalog>
"""
XML_RECORDS = [
    {
        "@id": "1",
        "@type": "simple",
        "sku": "A-1",
        "name": "Tee & more",
        "image": ["a.jpg", "b.jpg"],
        "pricing": {"net": {"@currency": "EUR", "#text": "19.90"}},
        "note": "<b>bold</b>",
    },
    {"@id": "2", "sku": "B-2", "empty": ""},
]


@pytest.mark.parametrize("chunk", CHUNK_SIZES)
def test_feeds_xml_records_path(chunk: int) -> None:
    """`items.item` reads each <item> below the root: children as fields, attributes as @name."""
    assert parse_bytes(XML, "feed.xml", chunk=chunk, records_path="items.item")[1] == XML_RECORDS


def test_feeds_xml_default_records_are_root_children() -> None:
    """Without records_path, each child of the root is a record (the common flat export)."""
    data = "<products><p><sku>A</sku></p><p><sku>Ö</sku></p></products>".encode("utf-16")
    assert parse_bytes(data, "feed.xml", chunk=5)[1] == [{"sku": "A"}, {"sku": "Ö"}]


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


CSV_BODY = b"sku,name\n" + b"".join(b"S%d,name %d\n" % (index, index) for index in range(2000))
COMPRESSED_CASES: list[tuple[str, bytes, str, dict[str, Any]]] = [
    ("gzip by magic", gzip.compress(CSV_BODY), "feed.csv.gz", {}),
    ("gzip configured", gzip.compress(CSV_BODY), "feed", {"compression": "gzip"}),
    ("gzip multi-member", gzip.compress(CSV_BODY[:5000]) + gzip.compress(CSV_BODY[5000:]), "f.gz", {}),
    ("zip deflated", _zip({"export/": b"", "export/feed.csv": CSV_BODY}), "feed.zip", {}),
    ("zip stored", _zip({"feed.csv": CSV_BODY}, zipfile.ZIP_STORED), "feed.zip", {"compression": "zip"}),
    ("plain", CSV_BODY, "feed.csv", {"compression": "none"}),
]


@pytest.mark.parametrize("chunk", [7, 4096, 1 << 18])
@pytest.mark.parametrize(
    ("label", "data", "name", "options"), COMPRESSED_CASES, ids=[c[0] for c in COMPRESSED_CASES]
)
def test_feeds_compression(label: str, data: bytes, name: str, options: dict[str, Any], chunk: int) -> None:
    """gzip and zip feeds decompress on the fly to the same records as the plain file."""
    columns, records = parse_bytes(data, name, format="csv", chunk=chunk, **options)
    assert columns == ("sku", "name")
    assert len(records) == 2000
    assert records[-1] == ["S1999", "name 1999"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("products.csv", "csv"), ("/x/P.JSON", "json"), ("a.jsonl.gz", "jsonl"), ("a.ndjson", "jsonl"),
     ("feed.xml.zip", "xml"), ("feed.txt", "csv"), ("feed.dat", None), ("noext", None)],
)  # fmt: skip
def test_feeds_format_from_name(name: str, expected: str | None) -> None:
    """The file name decides the format when the config does not, looking through .gz/.zip."""
    assert format_from_name(name) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"<?xml", "xml"), (b"  [{", "json"), (b'{"a": 1}\n{"a": 2}', "jsonl"), (b'{\n  "items": []}', "json"),
     (b'{"a": 1}', "jsonl"), (b"sku,name", "csv"), (b"\xef\xbb\xbf<root/>", "xml")],
)  # fmt: skip
def test_feeds_sniff_format(head: bytes, expected: str) -> None:
    """With neither config nor name to go by, the first bytes decide."""
    assert sniff_format(head) == expected


def test_feeds_detection_order() -> None:
    """Config beats name beats content: a .txt holding JSON Lines is read as configured."""
    data = b'{"sku": "A"}\n'
    assert parse_bytes(data, "feed.dat")[1] == [{"sku": "A"}]
    assert parse_bytes(data, "feed.txt", format="jsonl")[1] == [{"sku": "A"}]
