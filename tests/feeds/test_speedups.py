"""erpsync's C loops give exactly what their Python twins give, on any input.

A difference would be silent and costly: a cell split one way on a machine with a C compiler and
another way without it would change a product's hash, and so rewrite it, or garble a field.
Where the package was built without a C compiler the comparisons are skipped; the rest of the feed
tests then run on the Python twins alone.
"""

from __future__ import annotations

import csv
import io
import random
from array import array
from types import ModuleType

import pytest
from feed_support import parse_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from erpsync import speedups
from erpsync.feeds.errors import FeedFormatError
from erpsync.feeds.records import MAX_FIELD_SIZE
from erpsync.mapping.seen import _add_hashes
from erpsync.mapping.values import PLAIN_DECIMAL, PLAIN_INTEGER, PLAIN_MONEY

# Every character the splitter treats specially, some it must not, and the three string widths.
ALPHABET = ["a", "b", " ", "\x00", ",", ";", "\t", "|", '"', "'", "\r", "\n", "\r\n", '""', "é", "€", "𝄞"]
DIALECTS = [(",", '"'), (";", "'"), ("\t", '"'), ("|", "'"), ("é", "€")]


@pytest.fixture(scope="module")
def c_loops() -> ModuleType:
    """erpsync._speedups, or a skip where it was not built."""
    return pytest.importorskip("erpsync._speedups", reason="erpsync._speedups was not built (no C compiler)")


def test_every_caller_gets_the_built_loops(c_loops: ModuleType) -> None:
    """The switch the callers read holds the C loops when they were built: a lost import would leave
    every feed on the slower Python twins without a word."""
    for name in speedups.NAMES:
        assert getattr(speedups, name) is getattr(c_loops, name)


def stdlib_records(text: str, delimiter: str, quotechar: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar)
    return list(filter(None, reader))


@settings(max_examples=600, deadline=None)
@given(
    text=st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join),
    dialect=st.sampled_from(DIALECTS),
)
def test_split_records_is_the_stdlib_reader(c_loops: ModuleType, text: str, dialect: tuple[str, str]) -> None:
    """Quotes opened, doubled, closed early or never; line breaks of every kind, inside and out."""
    delimiter, quotechar = dialect
    assert c_loops.split_records(text, delimiter, quotechar, 131_072) == stdlib_records(
        text, delimiter, quotechar
    )


def test_split_records_on_a_real_feed_is_the_stdlib_reader(c_loops: ModuleType) -> None:
    """A long generated feed with quoted commas, doubled quotes and multi-line cells."""
    generator = random.Random(5)  # noqa: S311 - a fixed seed for a reproducible feed
    lines = ["sku,title,description,price"]
    for index in range(5000):
        description = generator.choice(["plain", '"with, comma"', '"two\r\nlines"', '"5"" wide"', ""])
        lines.append(f"S{index},Größe {index} €,{description},{generator.randint(1, 9999) / 100}")
    text = "\r\n".join(lines)
    assert c_loops.split_records(text, ",", '"', 131_072) == stdlib_records(text, ",", '"')


@pytest.mark.parametrize(
    ("text", "limit"),
    [("sku\nABCDEF\n", 5), ('sku\n"AB""CDE"\n', 5), ('sku\n"ABC"DEF\n', 5)],
    ids=["field over the limit", "quoted field over the limit", "field over the limit after its quotes"],
)
def test_split_records_leaves_what_the_stdlib_refuses_to_it(
    c_loops: ModuleType, text: str, limit: int
) -> None:
    """None, so the stdlib reader runs and its own error reaches the operator."""
    assert c_loops.split_records(text, ",", '"', limit) is None
    previous = csv.field_size_limit(limit)
    try:
        with pytest.raises(csv.Error):
            stdlib_records(text, ",", '"')
    finally:
        csv.field_size_limit(previous)


def test_split_records_fields_at_the_limit_are_kept(c_loops: ModuleType) -> None:
    """The stdlib refuses a field only past the limit, not at it."""
    assert c_loops.split_records('sku\nABCDE\n"AB""C"\n', ",", '"', 5) == [["sku"], ["ABCDE"], ['AB"C']]


@pytest.mark.usefixtures("speedups")
def test_a_field_over_the_size_limit_is_named_with_its_row() -> None:
    """A runaway cell (a quote never closed where it should be): the stdlib reader's error, either way,
    at the feeds' field cap rather than the stdlib's 128 KiB, which real HTML descriptions exceed."""
    feed = b"sku,name\n" + b"A,x\n" * 30_000 + b'B,"' + b"y" * (MAX_FIELD_SIZE + 1) + b'"\n'
    with pytest.raises(
        FeedFormatError, match=rf"near row 30002 \(field larger than field limit \({MAX_FIELD_SIZE}\)"
    ):
        parse_bytes(feed, "feed.csv", chunk=1 << 18)
    assert csv.field_size_limit() == 131_072  # the process-wide limit is left as it was


@pytest.mark.parametrize("seed", range(3))
def test_add_hashes_fills_the_table_the_python_loop_fills(c_loops: ModuleType, seed: int) -> None:
    """Same repeats reported, same slots written: an index filled by either is the same index."""
    generator = random.Random(seed)  # noqa: S311 - a fixed seed for reproducible batches
    table_c, table_py = array("q", [0]) * 4096, array("q", [0]) * 4096
    row = 2
    for _ in range(20):
        texts = [f"K{generator.randrange(1500)}" for _ in range(generator.randint(0, 60))]
        rows = range(row, row + len(texts))
        ordinals = [generator.randrange(1 << 31) for _ in texts]
        assert c_loops.add_hashes(table_c, texts, rows, ordinals) == _add_hashes(
            table_py, texts, rows, ordinals
        )
        assert table_c == table_py
        row += len(texts)


def test_add_hashes_refuses_a_table_it_cannot_probe(c_loops: ModuleType) -> None:
    """A table of the wrong type or size is a programming error, caught before any slot is written."""
    with pytest.raises(TypeError, match="array"):
        c_loops.add_hashes(array("q", [0]) * 48, ["A"], [2], [0])
    with pytest.raises(TypeError, match="array"):
        c_loops.add_hashes(array("i", [0]) * 64, ["A"], [2], [0])
    with pytest.raises(ValueError, match="length"):
        c_loops.add_hashes(array("q", [0]) * 64, ["A", "B"], [2], [0, 1])


def test_columns_of_reads_csv_records_as_the_transpose_does(c_loops: ModuleType) -> None:
    """The positions asked for, a column each; a short row gives None so the caller pads it."""
    records = [["A", "1", "x", "p"], ["B", "2", "y", "q"], ["C", "3", "z", "r"]]
    transposed = list(zip(*records, strict=True))
    assert c_loops.columns_of(records, (3, 0)) == {3: list(transposed[3]), 0: list(transposed[0])}
    assert c_loops.columns_of([*records, ["D", "4"]], (3, 0)) is None
    assert c_loops.columns_of([], (1,)) == {1: []}


def test_columns_of_reads_keyed_records_as_dict_get_does(c_loops: ModuleType) -> None:
    """A missing key reads None; a record that is not an object raises, as `dict.get` would."""
    records = [{"sku": "A", "price": 1.5}, {"sku": "B"}, {"price": None}]
    assert c_loops.columns_of(records, ("sku", "price")) == {
        "sku": ["A", "B", None],
        "price": [1.5, None, None],
    }
    with pytest.raises(TypeError, match="record 1 is not an object"):
        c_loops.columns_of([{"sku": "A"}, ["B"]], ("sku",))


NUMBERISH = st.lists(
    st.sampled_from(["0", "1", "9", "00", "-", ".", "5.", ".5", "1.2", "12.34", "\n", "1e3", "٣", " "])
)


@settings(max_examples=500, deadline=None)
@given(column=st.lists(NUMBERISH.map("".join), max_size=6), form=st.sampled_from([0, 1, 2]))
def test_plain_column_agrees_with_the_patterns(c_loops: ModuleType, column: list[str], form: int) -> None:
    """A column is taken as it is only where the regex would take it: otherwise a price like "1.5"
    would reach Shopify unnormalized, or "١٢" (Arabic-Indic digits) as a quantity."""
    lines = [PLAIN_MONEY, PLAIN_DECIMAL, PLAIN_INTEGER][form]
    joined = "\n".join(filter(None, column))
    expected = all("\n" not in value for value in column) and (
        not joined or lines.fullmatch(joined) is not None
    )
    assert c_loops.plain_column(column, form) is expected


def test_plain_column_refuses_values_that_are_not_text(c_loops: ModuleType) -> None:
    """A JSON number or null goes through the parsers, never straight to Shopify."""
    assert c_loops.plain_column(["1.00", None], 0) is False
    assert c_loops.plain_column(["1.00", 1.0], 0) is False
    assert c_loops.plain_column([], 2) is True
    assert c_loops.plain_column(["", "", "-1234567890"], 2) is True
    assert c_loops.plain_column(["1234567890123456"], 2) is False
