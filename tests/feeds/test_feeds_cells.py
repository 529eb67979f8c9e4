"""Big cells: read whole up to format_options.max_cell_size; past it, that row alone is rejected."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest
from feed_support import parse_bytes

from erpsync.feeds import FeedFormatError, iter_records
from erpsync.feeds.records import CellProblem
from erpsync.models import FormatOptions

# A product description as shop systems export it: ~300 KB of HTML, quotes and line breaks included.
HTML = '<div class="description">\n<p>Ein <b>"Klassiker"</b>, Größe 5 &amp; mehr.</p>\n</div>\n' * 3800


def csv_feed(description: str) -> bytes:
    quoted = '"' + description.replace('"', '""') + '"'
    return f"sku,description\nA,{quoted}\nB,short\nC,also short\n".encode()


@pytest.mark.usefixtures("speedups")
def test_a_300_kb_html_cell_is_read_whole() -> None:
    """Past the stdlib reader's 128 KiB default (which once refused such a feed), well under the cap."""
    assert len(HTML) > 2 * csv.field_size_limit()
    _, rows = parse_bytes(csv_feed(HTML), "feed.csv", chunk=64 * 1024)
    assert rows == [["A", HTML], ["B", "short"], ["C", "also short"]]
    assert csv.field_size_limit() == 131_072  # the process-wide limit is left as it was


def problem(record: Any, key: str | int) -> str:
    value = record[key]
    assert isinstance(value, CellProblem), value
    return value.message


@pytest.mark.usefixtures("speedups")
def test_a_csv_cell_over_the_limit_rejects_its_row_only() -> None:
    _, rows = parse_bytes(csv_feed(HTML), "feed.csv", chunk=64 * 1024, max_cell_size=100_000)
    assert problem(rows[0], 1) == f"is {len(HTML)} characters, over format_options.max_cell_size (100000)"
    assert rows[0][0] == "A"
    assert rows[1:] == [["B", "short"], ["C", "also short"]]


def test_the_cell_limit_can_be_raised_to_read_a_bigger_cell() -> None:
    big = "x" * (9 * 1024 * 1024)
    _, rows = parse_bytes(csv_feed(big), "feed.csv", max_cell_size=16 * 1024 * 1024)
    assert rows[0] == ["A", big]


@pytest.mark.usefixtures("speedups")
def test_an_unclosed_quote_is_still_fatal() -> None:
    """Runaway quoting is not a big cell: past the record cap the feed is refused."""
    data = b'sku,d\nA,"' + b"y\n" * (9 * 1024 * 1024)
    with pytest.raises(FeedFormatError, match="never ends"):
        parse_bytes(data, "feed.csv", max_cell_size=1024)


@pytest.mark.parametrize("name", ["feed.json", "feed.jsonl"])
def test_a_json_string_over_the_limit_rejects_its_record_only(name: str) -> None:
    records = [{"sku": "A", "d": {"html": HTML}}, {"sku": "B", "d": {"html": "short"}}]
    data = (
        json.dumps(records).encode()
        if name == "feed.json"
        else b"\n".join(map(str.encode, map(json.dumps, records)))
    )
    got = parse_bytes(data, name, chunk=32 * 1024, max_cell_size=100_000)[1]
    assert problem(got[0]["d"], "html").startswith(f"is {len(HTML)} characters")
    assert got[0]["sku"] == "A"
    assert got[1] == records[1]


def test_csv_records_carry_their_first_line_where_it_is_not_their_row() -> None:
    """Row 3 starts on line 5: the quoted cell of row 2 spans three lines."""
    data = b'sku,d\nA,"one\ntwo\nthree"\nB,x\nC,y\n'
    batches = list(iter_records([data], name="f.csv", format=None, options=FormatOptions()))
    lines = [batch.line_of(index) for batch in batches for index in range(len(batch.records))]
    assert lines == [2, 5, 6]


def test_csv_lines_are_left_out_while_they_equal_the_rows() -> None:
    data = b"sku,d\nA,x\nB,y\n"
    batches = list(iter_records([data], name="f.csv", format=None, options=FormatOptions()))
    assert [batch.lines for batch in batches] == [None]


def test_jsonl_records_carry_their_line() -> None:
    data = b'{"sku": "A"}\n\n{"sku": "B"}\n  \n{"sku": "C"}\n'
    batches = list(iter_records([data], name="f.jsonl", format=None, options=FormatOptions()))
    lines = [batch.line_of(index) for batch in batches for index in range(len(batch.records))]
    assert lines == [1, 3, 5]
