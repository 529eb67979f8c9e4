"""Bytes to record batches: undo compression, settle the format, run the right parser.

`FeedDecoder` is the synchronous core (push bytes, get batches); `read_records` drives it from the
async chunk stream a source yields, or from any iterable of chunks in tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from erpsync.feeds.compression import Decompressor, open_decompressor
from erpsync.feeds.csv import CsvParser
from erpsync.feeds.detect import SNIFF_BYTES, resolve_compression, resolve_format
from erpsync.feeds.json import JsonArrayParser
from erpsync.feeds.jsonl import JsonLinesParser
from erpsync.feeds.records import RecordBatch, RecordParser
from erpsync.feeds.xml import XmlParser
from erpsync.models import FeedFormat, FormatOptions

# Enough compressed bytes to see a gzip or zip signature.
_MAGIC_BYTES = 4
# Sources read large blocks (256 KiB over FTP), but the parser gets at most this much at a time:
# a batch's records then fit in a 2-core box's 512 KiB L2 cache while the mapping stage walks them
# column by column, and the feed's row rate nearly doubles (bench/feeds.py, issue 5).
PARSE_PIECE = 32 * 1024


def make_parser(kind: FeedFormat, options: FormatOptions, *, feed: str) -> RecordParser:
    """The parser for one format, configured from the config's format options."""
    if kind == "csv":
        return CsvParser(
            feed=feed,
            delimiter=options.delimiter,
            quotechar=options.quotechar,
            encoding=options.encoding,
            has_header=options.has_header,
        )
    if kind == "json":
        return JsonArrayParser(feed=feed, records_path=options.records_path)
    if kind == "jsonl":
        return JsonLinesParser(feed=feed)
    return XmlParser(feed=feed, records_path=options.records_path)


class FeedDecoder:
    """Push the feed's raw bytes in; get record batches out. Nothing is parsed before it is vetted."""

    def __init__(
        self, *, name: str, format: FeedFormat | None, options: FormatOptions, size: int | None = None
    ) -> None:
        self.name = name
        self.format: FeedFormat | None = None
        self._configured_format = format
        self._options = options
        self._raw_head = b""
        self._plain_head = b""
        self._decompressor: Decompressor | None = None
        self._parser: RecordParser | None = None
        # The feed's size in raw bytes, if the source announced it; None once the first batch is out.
        self._size = size
        self._raw_bytes = 0
        self._plain_bytes = 0
        self._parsed_bytes = 0

    def feed(self, data: bytes) -> Iterator[RecordBatch]:
        """Take the next raw chunk; its batches are parsed one at a time, as the caller asks for them."""
        if self._decompressor is None:
            self._raw_head += data
            if len(self._raw_head) < _MAGIC_BYTES:
                return
            data, self._raw_head = self._raw_head, b""
            self._decompressor = self._open_decompressor(data)
        self._raw_bytes += len(data)
        for piece in self._decompressor.feed(data):
            self._plain_bytes += len(piece)
            yield from self._parse(piece)

    def close(self) -> list[RecordBatch]:
        """The raw bytes are over: flush every stage and check nothing was cut short."""
        batches: list[RecordBatch] = []
        if self._decompressor is None:
            data, self._raw_head = self._raw_head, b""
            self._decompressor = self._open_decompressor(data)
            for piece in self._decompressor.feed(data):
                batches.extend(self._parse(piece))
        self._decompressor.close()
        if self._parser is None:
            head, self._plain_head = self._plain_head, b""
            self._parser = self._open_parser(head)
            self._keep(self._parser.feed(head), batches)
        self._keep(self._parser.close(), batches)
        return batches

    def _open_decompressor(self, head: bytes) -> Decompressor:
        kind = resolve_compression(self._options.compression, name=self.name, head=head, feed=self.name)
        return open_decompressor(kind, feed=self.name)

    def _open_parser(self, head: bytes) -> RecordParser:
        self.format = resolve_format(self._configured_format, name=self.name, head=head, feed=self.name)
        return make_parser(self.format, self._options, feed=self.name)

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
                yield batch if self._size is None else self._estimated(batch)

    def _estimated(self, batch: RecordBatch) -> RecordBatch:
        """The first batch, with the feed's row count estimated from the bytes its rows took."""
        size, self._size = self._size, None
        if not (size and self._raw_bytes and self._parsed_bytes):
            return batch
        plain_size = size * self._plain_bytes / self._raw_bytes
        rows = round(plain_size * len(batch.records) / self._parsed_bytes)
        return dataclasses.replace(batch, feed_rows=rows)

    @staticmethod
    def _keep(batch: RecordBatch | None, batches: list[RecordBatch]) -> None:
        if batch is not None:
            batches.append(batch)


async def read_records(
    chunks: AsyncIterable[bytes] | Iterable[bytes],
    *,
    name: str,
    format: FeedFormat | None,
    options: FormatOptions,
) -> AsyncIterator[RecordBatch]:
    """Record batches from a stream of raw chunks; raises a FeedError if the feed is not readable.

    A source stream that announces its size (`expected_size`, as `FeedStream` does) lets the first
    batch carry an estimate of the feed's row count.
    """
    size = getattr(chunks, "expected_size", None)
    decoder = FeedDecoder(
        name=name, format=format, options=options, size=size if isinstance(size, int) else None
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
    chunks: Iterable[bytes], *, name: str, format: FeedFormat | None, options: FormatOptions
) -> Iterator[RecordBatch]:
    """The synchronous twin of `read_records`, for local files and benchmarks."""
    decoder = FeedDecoder(name=name, format=format, options=options)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
