"""Bytes to record batches: undo compression, settle the format, run the right parser.

`FeedDecoder` is the synchronous core (push bytes, get batches); `read_records` drives it from the
async chunk stream a source yields, or from any iterable of chunks in tests and benchmarks. It stops
a feed at `[sync] max_feed_rows` rows or `max_feed_bytes` decompressed bytes: a few hundred KB of
gzip can expand to gigabytes of rows, and every row costs the run time and some memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from erpsync.feeds.compression import Decompressor, open_decompressor
from erpsync.feeds.csv import CsvParser
from erpsync.feeds.detect import SNIFF_BYTES, resolve_compression, resolve_format, workbook_format
from erpsync.feeds.errors import FeedLimitError
from erpsync.feeds.json import JsonArrayParser
from erpsync.feeds.jsonl import JsonLinesParser
from erpsync.feeds.records import RecordBatch, RecordParser
from erpsync.feeds.sheets import SheetParser
from erpsync.feeds.xml import XmlParser
from erpsync.models import FeedFormat, FormatOptions

# Enough raw bytes to see a gzip or zip signature, and a zip's first member name (an XLSX or ODS).
_MAGIC_BYTES = 128
# Sources read large blocks (256 KiB over FTP), but the parser gets at most this much at a time:
# a batch's records then fit in a 2-core box's 512 KiB L2 cache while the mapping stage walks them
# column by column, and the feed's row rate nearly doubles (bench/feeds.py, issue 5).
PARSE_PIECE = 32 * 1024
# The defaults of `[sync] max_feed_rows` and `max_feed_bytes` (erpsync/settings.py says why), kept by
# a reader that is not given the configured caps; 0 or None is no cap.
MAX_FEED_ROWS = 5_000_000
MAX_FEED_BYTES = 10_000_000_000
_RAISE_THE_CAP = "raise the cap, or set it to 0 for none, if the feed is meant to be this large"


def make_parser(
    kind: FeedFormat, options: FormatOptions, *, feed: str, spool_dir: str | None = None
) -> RecordParser | SheetParser:
    """The parser for one format, configured from the config's format options."""
    limit = options.max_cell_size
    if kind == "csv":
        return CsvParser(
            feed=feed,
            delimiter=options.delimiter,
            quotechar=options.quotechar,
            encoding=options.encoding,
            has_header=options.has_header,
            max_cell_size=limit,
        )
    if kind == "json":
        return JsonArrayParser(feed=feed, records_path=options.records_path, max_cell_size=limit)
    if kind == "jsonl":
        return JsonLinesParser(feed=feed, max_cell_size=limit)
    if kind in ("xlsx", "ods"):
        return SheetParser(
            feed=feed,
            kind=kind,
            sheet=options.sheet,
            has_header=options.has_header,
            max_cell_size=limit,
            spool_dir=spool_dir,
        )
    return XmlParser(feed=feed, records_path=options.records_path, max_cell_size=limit)


class FeedDecoder:
    """Push the feed's raw bytes in; get record batches out. Nothing is parsed before it is vetted."""

    def __init__(
        self,
        *,
        name: str,
        format: FeedFormat | None,
        options: FormatOptions,
        size: int | None = None,
        max_rows: int | None = MAX_FEED_ROWS,
        max_bytes: int | None = MAX_FEED_BYTES,
        spool_dir: str | None = None,
    ) -> None:
        self.name = name
        # Where a workbook (XLSX, ODS) is spooled until it can be read: a zip needs random access.
        self._spool_dir = spool_dir
        self.format: FeedFormat | None = None
        self._configured_format = format
        self._options = options
        self._raw_head = b""
        self._plain_head = b""
        self._decompressor: Decompressor | None = None
        self._parser: RecordParser | SheetParser | None = None
        # The feed's size in raw bytes, if the source announced it; None once the first batch is out.
        self._size = size
        self._raw_bytes = 0
        self._plain_bytes = 0
        self._parsed_bytes = 0
        self._compression = "none"
        self._rows = 0
        self._max_rows = max_rows or 0
        self._max_bytes = max_bytes or 0

    def feed(self, data: bytes) -> Iterator[RecordBatch]:
        """Take the next raw chunk; its batches are parsed one at a time, as the caller asks for them."""
        if self._decompressor is None:
            self._raw_head += data
            if len(self._raw_head) < _MAGIC_BYTES:
                return
            data, self._raw_head = self._raw_head, b""
            self._decompressor = self._open_decompressor(data)
        self._raw_bytes += len(data)
        yield from self._decompress(data)

    def close(self) -> Iterator[RecordBatch]:
        """The raw bytes are over: flush every stage and check nothing was cut short. A workbook's
        rows are all read here, so its batches are yielded one at a time as the caller asks."""
        batches: list[RecordBatch] = []
        if self._decompressor is None:
            data, self._raw_head = self._raw_head, b""
            self._decompressor = self._open_decompressor(data)
            batches.extend(self._decompress(data))
        self._decompressor.close()
        self._parsed_bytes = self._plain_bytes  # all of it, once the parser below has it
        if self._parser is None:
            head, self._plain_head = self._plain_head, b""
            self._parser = self._open_parser(head)
            self._keep(self._parser.feed(head), batches)
        self._keep(self._parser.close(), batches)
        yield from batches
        if isinstance(self._parser, SheetParser):
            for batch in self._parser.batches():
                self._count(batch)
                yield batch

    def _open_decompressor(self, head: bytes) -> Decompressor:
        if workbook_format(self._configured_format, name=self.name, head=head) is not None:
            return open_decompressor("none", feed=self.name)  # the zip is the workbook itself
        kind = resolve_compression(self._options.compression, name=self.name, head=head, feed=self.name)
        self._compression = kind
        return open_decompressor(kind, feed=self.name)

    def _decompress(self, data: bytes) -> Iterator[RecordBatch]:
        assert self._decompressor is not None
        for piece in self._decompressor.feed(data):
            if self._max_bytes and self._plain_bytes + len(piece) > self._max_bytes:
                raise self._over_bytes()
            self._plain_bytes += len(piece)
            yield from self._parse(piece)

    def _open_parser(self, head: bytes) -> RecordParser | SheetParser:
        self.format = resolve_format(self._configured_format, name=self.name, head=head, feed=self.name)
        return make_parser(self.format, self._options, feed=self.name, spool_dir=self._spool_dir)

    def _parse(self, piece: bytes) -> Iterator[RecordBatch]:
        if self._parser is None:
            self._plain_head += piece
            if len(self._plain_head) < SNIFF_BYTES:
                return
            piece, self._plain_head = self._plain_head, b""
            self._parser = self._open_parser(piece)
        parser = self._parser
        for offset in range(0, len(piece), PARSE_PIECE):
            part = piece[offset : offset + PARSE_PIECE]
            self._parsed_bytes += len(part)
            batch = parser.feed(part)
            if batch is not None:
                self._count(batch)
                yield batch if self._size is None else self._estimated(batch)

    def _count(self, batch: RecordBatch) -> None:
        """Count the batch's rows; past the cap, raise instead of handing them on."""
        if self._max_rows and self._rows + len(batch.records) > self._max_rows:
            stopped = batch.first_row + self._max_rows - self._rows
            raise FeedLimitError(
                self.name,
                f"more than {self._max_rows:,} rows (the cap set by [sync] max_feed_rows); reading stopped "
                f"at row {stopped:,}, near byte {self._parsed_bytes:,} of the {self._plain_name()}"
                f"{self._compressed_read()}; {_RAISE_THE_CAP}",
            )
        self._rows += len(batch.records)

    def _over_bytes(self) -> FeedLimitError:
        return FeedLimitError(
            self.name,
            f"more than {self._max_bytes:,} bytes of {self._plain_name()} (the cap set by [sync] "
            f"max_feed_bytes); reading stopped at byte {self._plain_bytes:,}, after {self._rows:,} rows"
            f"{self._compressed_read()}; {_RAISE_THE_CAP}",
        )

    def _plain_name(self) -> str:
        return "feed" if self._compression == "none" else "decompressed feed"

    def _compressed_read(self) -> str:
        if self._compression == "none":
            return ""
        return f", {self._raw_bytes:,} bytes into the {self._compression} file"

    def _estimated(self, batch: RecordBatch) -> RecordBatch:
        """The first batch, with the feed's row count estimated from the bytes its rows took."""
        size, self._size = self._size, None
        if not (size and self._raw_bytes and self._parsed_bytes):
            return batch
        plain_size = size * self._plain_bytes / self._raw_bytes
        rows = round(plain_size * len(batch.records) / self._parsed_bytes)
        return dataclasses.replace(batch, feed_rows=rows)

    def _keep(self, batch: RecordBatch | None, batches: list[RecordBatch]) -> None:
        if batch is not None:
            self._count(batch)
            batches.append(batch)


async def read_records(
    chunks: AsyncIterable[bytes] | Iterable[bytes],
    *,
    name: str,
    format: FeedFormat | None,
    options: FormatOptions,
    max_rows: int | None = MAX_FEED_ROWS,
    max_bytes: int | None = MAX_FEED_BYTES,
    spool_dir: str | None = None,
) -> AsyncIterator[RecordBatch]:
    """Record batches from a stream of raw chunks; raises a FeedError if the feed is not readable,
    a FeedLimitError past `max_rows` rows or `max_bytes` decompressed bytes (`[sync]`'s caps).

    An XLSX or ODS feed is spooled to a temporary file in `spool_dir` (default: the system's).
    A source stream that announces its size (`expected_size`, as `FeedStream` does) lets the first
    batch carry an estimate of the feed's row count.
    """
    size = getattr(chunks, "expected_size", None)
    decoder = FeedDecoder(
        name=name,
        format=format,
        options=options,
        size=size if isinstance(size, int) else None,
        max_rows=max_rows,
        max_bytes=max_bytes,
        spool_dir=spool_dir,
    )
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            for batch in decoder.feed(chunk):
                yield batch
    else:
        for chunk in chunks:
            for batch in decoder.feed(chunk):
                yield batch
    for batch in decoder.close():
        yield batch


def iter_records(
    chunks: Iterable[bytes],
    *,
    name: str,
    format: FeedFormat | None,
    options: FormatOptions,
    max_rows: int | None = MAX_FEED_ROWS,
    max_bytes: int | None = MAX_FEED_BYTES,
    spool_dir: str | None = None,
) -> Iterator[RecordBatch]:
    """The synchronous twin of `read_records`, for local files and benchmarks."""
    decoder = FeedDecoder(
        name=name, format=format, options=options, max_rows=max_rows, max_bytes=max_bytes, spool_dir=spool_dir
    )
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
