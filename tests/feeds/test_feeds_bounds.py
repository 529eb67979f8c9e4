"""Hostile feeds cost bounded memory and time: decompression bombs stop at `[sync]`'s caps, the SKU
index grows with distinct SKUs only, and a long field is read once, not once per chunk."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from feed_support import make_config, parse_bytes

from erpsync.errors import SettingsError
from erpsync.feeds import FeedFormatError, FeedLimitError, iter_records, read_records
from erpsync.feeds.json import MAX_ELEMENT_BYTES, JsonArrayParser
from erpsync.feeds.reader import MAX_FEED_BYTES, MAX_FEED_ROWS, PARSE_PIECE
from erpsync.mapping.seen import SeenIndex
from erpsync.models import FormatOptions
from erpsync.settings import SyncSettings, load_settings
from erpsync.sources.base import open_feed
from erpsync.sources.policy import SourcePolicy

ROW = b"SKU-1,Tee shirt,19.90\n"
BOMB_BYTES = 200 * 1024 * 1024
MiB = 1024 * 1024


def _bomb_blocks() -> Iterator[bytes]:
    yield b"sku,name,price\n"
    block = ROW * (MiB // len(ROW))
    for _ in range(BOMB_BYTES // len(block)):
        yield block


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """200 MB of one CSV row, deflated at level 9 into about 500 KB: as gzip and as zip."""
    directory = tmp_path_factory.mktemp("bombs")
    gz = directory / "bomb.csv.gz"
    deflate = zlib.compressobj(9, wbits=31)
    with gz.open("wb") as handle:
        for block in _bomb_blocks():
            handle.write(deflate.compress(block))
        handle.write(deflate.flush())
    zipped = directory / "bomb.zip"
    with (
        zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("bomb.csv", "w") as entry,
    ):
        for block in _bomb_blocks():
            entry.write(block)
    return {"gzip": gz, "zip": zipped}


async def _read(path: Path, **caps: int) -> None:
    """Read the file as a sync does: a `file` source, whose stream announces its size."""
    config = make_config(credentials={"filePath": str(path)}, format="csv")
    async with open_feed(config, policy=SourcePolicy(path.parent, allow_private=False)) as stream:
        async for _ in read_records(
            stream, name=stream.name, format=config.format, options=config.format_options, **caps
        ):
            pass


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_bomb_stops_at_the_row_cap(bombs: dict[str, Path], kind: str) -> None:
    """A few hundred KB that expand to millions of rows stop at `max_feed_rows` with an error naming
    the file, the cap, its setting and where reading stopped, instead of running for hours."""
    path = bombs[kind]
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(FeedLimitError) as caught:
        asyncio.run(_read(path, max_rows=1_000_000))
    # Row 1 is the header: the first row over the cap is row 1,000,002.
    assert re.fullmatch(
        rf"{re.escape(str(path))}: more than 1,000,000 rows \(the cap set by \[sync\] max_feed_rows\); "
        rf"reading stopped at row 1,000,002, near byte 2\d,\d{{3}},\d{{3}} of the decompressed feed, "
        rf"[\d,]+ bytes into the {kind} file; raise the cap, or set it to 0 for none, if the feed is "
        "meant to be this large",
        str(caught.value),
    ), caught.value
    assert not caught.value.retryable


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_bomb_stops_at_the_byte_cap(bombs: dict[str, Path], kind: str) -> None:
    """The decompressed size is capped too (`max_feed_bytes`), for bombs whose bytes make no rows."""
    path = bombs[kind]
    with pytest.raises(FeedLimitError) as caught:
        asyncio.run(_read(path, max_bytes=20_000_000, max_rows=0))
    # Stopped before the piece (at most 1 MiB) that would pass the cap.
    assert re.fullmatch(
        rf"{re.escape(str(path))}: more than 20,000,000 bytes of decompressed feed \(the cap set by "
        rf"\[sync\] max_feed_bytes\); reading stopped at byte 19,\d{{3}},\d{{3}}, after [\d,]+ rows, "
        rf"[\d,]+ bytes into the {kind} file; raise the cap, or set it to 0 for none, .*",
        str(caught.value),
    ), caught.value


def test_caps_of_zero_read_everything_and_rows_count_past_the_header() -> None:
    """0 is no cap; a cap of 2 rows lets a 2-row feed through and stops a 3-row one at its third row."""
    feed = b"sku,name\nA,x\nB,y\nC,z\n"
    options = FormatOptions()
    batches = iter_records([feed], name="feed.csv", format="csv", options=options, max_rows=0, max_bytes=0)
    assert sum(len(batch.records) for batch in batches) == 3
    two = list(iter_records([feed[:-4]], name="feed.csv", format="csv", options=options, max_rows=2))
    assert sum(len(batch.records) for batch in two) == 2
    with pytest.raises(
        FeedLimitError, match=r"^feed\.csv: more than 2 rows .* stopped at row 4, near byte 21 of the feed; "
    ):
        list(iter_records([feed], name="feed.csv", format="csv", options=options, max_rows=2))
    with pytest.raises(
        FeedLimitError, match=r"more than 10 bytes of feed .* stopped at byte 0, after 0 rows; raise"
    ):
        list(iter_records([feed], name="feed.csv", format="csv", options=options, max_bytes=10))


def test_reader_defaults_are_the_settings_defaults() -> None:
    """A preview or a benchmark, which read without settings, stop where a sync on defaults stops."""
    defaults = SyncSettings()
    assert (defaults.max_feed_rows, defaults.max_feed_bytes) == (MAX_FEED_ROWS, MAX_FEED_BYTES)


def test_a_negative_cap_is_refused_at_start_up(tmp_path: Path) -> None:
    """A typo'd cap names its key and file instead of silently reading without a limit."""
    path = tmp_path / "erpsync.toml"
    path.write_text("[sync]\nmax_feed_rows = -1\n")
    with pytest.raises(
        SettingsError, match=rf"setting sync\.max_feed_rows: .* \(in {re.escape(str(path))}\)"
    ):
        load_settings(path)


_PIPELINE = """
import asyncio, json, sys
from pathlib import Path
from erpsync.feeds import FeedLimitError, read_records
from erpsync.mapping import FeedMapper
from erpsync.models import SyncConfig
from erpsync.sources.base import open_feed
from erpsync.sources.policy import SourcePolicy

path, first, cap = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
config = SyncConfig.model_validate({
    "id": "bomb", "name": "Bomb", "connection_type": "file", "credentials": {"filePath": str(path)},
    "mapping": {"title": "name", "variant.sku": "sku", "variant.price": "price"},
})

def peak() -> float:
    # VmHWM, not getrusage's ru_maxrss: on Linux that keeps the larger peak of the forked test runner.
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

async def main() -> None:
    marks = {}
    async with open_feed(config, policy=SourcePolicy(path.parent, allow_private=False)) as stream:
        mapper = FeedMapper(config, feed=stream.name)
        try:
            async for batch in read_records(
                stream, name=stream.name, format=None, options=config.format_options, max_rows=cap
            ):
                mapper.map_batch(batch)
                if "first" not in marks and mapper.rows >= first:
                    marks["first"] = peak()
        except FeedLimitError as error:
            marks["error"] = str(error)
    marks["end"], marks["rows"] = peak(), mapper.rows
    print(json.dumps(marks))

asyncio.run(main())
"""


def test_bomb_memory_stays_flat_whatever_the_row_count(bombs: dict[str, Path]) -> None:
    """Read and mapped as a sync does (SKU index, row errors, the open product), a bomb of one
    repeated row uses no more memory at 600,000 rows than at 150,000: the peak RSS of a process of
    its own, so nothing else in the test run counts (it grew 31 MB by 600,000 rows, 93 MB by 1.5M)."""
    result = subprocess.run(
        [sys.executable, "-c", _PIPELINE, str(bombs["gzip"]), "150000", "600000"],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    marks = json.loads(result.stdout)
    assert 590_000 < marks["rows"] <= 600_000
    assert "more than 600,000 rows" in marks["error"]
    growth = marks["end"] - marks["first"]
    assert growth < 8, f"peak RSS grew {growth:.1f} MB from 150,000 to 600,000 rows: {marks}"


@pytest.mark.usefixtures("speedups")
def test_seen_index_grows_with_distinct_skus_not_rows() -> None:
    """A row count that promises millions of SKUs, then one SKU repeated a million times: the index
    stays at its smallest, and it still names the first row of every repeat."""
    index = SeenIndex()
    index.reserve(10_000_000)
    smallest = index.capacity
    repeats = 0
    for first in range(2, 1_000_002, 5000):
        repeats += len(index.add_many(["SKU-1"] * 5000, range(first, first + 5000), [0] * 5000))
    assert index.capacity == smallest
    assert repeats == 1_000_000 - 1
    assert index.add("SKU-1", 9, 9) == (2, 0)
    texts = [f"S{number}" for number in range(100_000)]
    for first in range(0, len(texts), 5000):
        index.add_many(texts[first : first + 5000], range(first, first + 5000), [1] * 5000)
    # Grown with the 100,001 distinct strings (to a power of two 2-16x that), not the reservation.
    assert 200_002 <= index.capacity <= 16 * 100_001
    assert index.add("S99999", 0, 0) == (99_999, 1)


# -- long fields ------------------------------------------------------------------------------


def _scanned(document: bytes) -> tuple[list[Any], int]:
    """The records of a JSON document fed as the reader feeds it, and the bytes the parser scanned."""
    parser = JsonArrayParser(feed="feed.json")
    records: list[Any] = []
    for start in range(0, len(document), PARSE_PIECE):
        batch = parser.feed(document[start : start + PARSE_PIECE])
        if batch is not None:
            records.extend(batch.records)
    last = parser.close()
    if last is not None:
        records.extend(last.records)
    return records, parser.scanned_bytes


@pytest.mark.parametrize(
    "shape",
    [
        lambda text: [{"sku": "A", "description": text}, {"sku": "B"}],
        lambda text: [text],
        lambda text: [{"sku": "A", "d": text.replace("x", '\\"', 1000).replace("y", "}, {", 1000)}],
    ],
    ids=["in a record", "the array's only element", "with escaped quotes and brackets"],
)
def test_json_long_string_is_scanned_once(shape: Any) -> None:
    """A multi-MB description costs what as many bytes of small records cost: the parser scans each
    byte a bounded number of times, where it used to rescan the string with every chunk (8 MB took
    109 s). A counter, not a clock: from 2 MB to 7 MB, each byte more is scanned about twice more
    (found, then parsed); a rescan per chunk would make it hundreds of times."""
    sizes, scans = [], []
    for size in (2 * MiB, 7 * MiB):
        value = shape(("xy" * (size // 2))[:size])
        document = json.dumps(value).encode()
        records, scanned = _scanned(document)
        assert records == value
        sizes.append(len(document))
        scans.append(scanned)
    assert (scans[1] - scans[0]) / (sizes[1] - sizes[0]) < 2.5, (sizes, scans)
    assert scans[1] < 3 * sizes[1], (sizes, scans)


def _chunks_counted(head: bytes, pulled: list[int], *, piece: bytes, count: int) -> Iterator[bytes]:
    yield head
    for _ in range(count):
        pulled.append(len(piece))
        yield piece


def test_json_string_over_the_field_cap_is_refused_at_the_cap() -> None:
    """A 100 MB string is refused once it passes 64 MiB (more than any cell may hold: a cell over
    max_cell_size but under this only rejects its row), naming its record and where it starts; the
    rest of the feed is never read."""
    pulled: list[int] = []
    chunks = _chunks_counted(
        b'[{"sku": "A"}, {"sku": "B", "description": "', pulled, piece=b"x" * MiB, count=100
    )
    with pytest.raises(FeedFormatError) as caught:
        list(iter_records(chunks, name="feed.json", format=None, options=FormatOptions()))
    assert str(caught.value) == (
        f"feed.json: record 2 holds a string longer than {MAX_ELEMENT_BYTES:,} bytes, starting at byte 43; "
        "no product field is that long (broken quoting, or not a feed?)"
    )
    assert sum(pulled) <= MAX_ELEMENT_BYTES + 2 * MiB


@pytest.mark.parametrize(
    ("name", "head", "reason"),
    [
        (
            "feed.jsonl",
            b'{"sku": "A"}\n{"sku": "B", "d": "',
            "record 2 is a line longer than 67,108,864 bytes",
        ),
        (
            "feed.xml",
            b"<catalog><item><sku>A</sku></item><item><d>",
            "record 2 (from byte 34) is larger than 67,108,864",
        ),
    ],
)
def test_a_record_that_never_ends_is_refused_at_the_cap(name: str, head: bytes, reason: str) -> None:
    """A JSON Lines line or an XML record element without an end is refused once it passes 64 MiB,
    as a JSON array's element is, rather than held in memory to the end of the feed."""
    pulled: list[int] = []
    chunks = _chunks_counted(head, pulled, piece=b"y" * MiB, count=200)
    with pytest.raises(FeedFormatError, match=rf"^{re.escape(name)}: {re.escape(reason)}") as caught:
        list(iter_records(chunks, name=name, format=None, options=FormatOptions()))
    assert sum(pulled) <= MAX_ELEMENT_BYTES + 2 * MiB, caught.value


HTML = ("<p style='margin:0'>Cotton tee, “soft” & light; sizes S–XL</p>\n" * 5000)[: 300 * 1024]


@pytest.mark.usefixtures("speedups")
def test_a_300_kb_html_description_is_read_in_every_format() -> None:
    """Real feeds carry long HTML descriptions: one of 300 KB is a field like any other, in a CSV
    cell (past the stdlib reader's 128 KiB limit), a JSON or JSON Lines string and an XML text."""
    quoted = '"' + HTML.replace('"', '""') + '"'
    _, rows = parse_bytes(f"sku,description\nA,{quoted}\nB,short\n".encode(), "feed.csv")
    assert rows == [["A", HTML], ["B", "short"]]
    records = [{"sku": "A", "description": HTML}, {"sku": "B", "description": "short"}]
    assert parse_bytes(json.dumps(records).encode(), "feed.json")[1] == records
    lines = "".join(json.dumps(record) + "\n" for record in records).encode()
    assert parse_bytes(lines, "feed.jsonl")[1] == records
    escaped = HTML.replace("&", "&amp;").replace("<", "&lt;")
    xml = f"<catalog><item><sku>A</sku><description>{escaped}</description></item></catalog>"
    assert parse_bytes(xml.encode(), "feed.xml")[1] == [{"sku": "A", "description": HTML.strip()}]


def _bytes_scanned(data: bytes, name: str) -> int:
    """How many characters the reader's own string and bytes methods (find, count, split, ...)
    walked over while parsing `data`: a count, unlike a time, that load on the machine cannot move."""
    scanned = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal scanned
        if event == "c_call" and isinstance(owner := getattr(arg, "__self__", None), (bytes, str)):
            scanned += len(owner)

    sys.setprofile(profile)
    try:
        parse_bytes(data, name)
    finally:
        sys.setprofile(None)
    return scanned


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("feed.csv", lambda size: b'sku,d\nA,"' + b"a b\n" * (size // 4) + b'"\nB,x\n'),
        ("feed.jsonl", lambda size: b'{"sku": "A", "d": "' + b"a b " * (size // 4) + b'"}\n{"sku": "B"}\n'),
    ],
    ids=["csv", "jsonl"],
)
def test_a_long_record_costs_its_length_once(name: str, record: Any) -> None:
    """A CSV record or JSON Lines line cut by many chunks is joined once: four times as long is
    about four times the work (it was sixteen: each chunk copied and searched all of it again)."""
    short, long = _bytes_scanned(record(int(1.5 * MiB)), name), _bytes_scanned(record(6 * MiB), name)
    assert short > 1.5 * MiB, short
    assert long / short < 5, (short, long)
