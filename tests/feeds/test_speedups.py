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
from erpsync.feeds.records import MAX_FIELD_SIZE, CellProblem
from erpsync.mapping.seen import _add_hashes

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
def test_a_field_over_the_size_limit_rejects_its_row_only() -> None:
    """A cell over the feeds' cap (8 MiB, not the stdlib's 128 KiB, which real HTML descriptions
    exceed): its row alone is marked, with or without the C splitter, and the rows after it are read."""
    feed = b"sku,name\n" + b"A,x\n" * 30_000 + b'B,"' + b"y" * (MAX_FIELD_SIZE + 1) + b'"\nC,z\n'
    _, records = parse_bytes(feed, "feed.csv", chunk=1 << 18)
    assert len(records) == 30_002
    assert records[30_000][0] == "B"
    assert isinstance(records[30_000][1], CellProblem)
    assert f"over format_options.max_cell_size ({MAX_FIELD_SIZE})" in str(records[30_000][1])
    assert records[30_001] == ["C", "z"]
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
