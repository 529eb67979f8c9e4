"""Streaming gzip and zip decompression: compressed chunks in, bounded plain chunks out.

Neither format is buffered whole. A zip archive is read through its local file headers, so only the
first file in it is used (directories are skipped); that is how ERPs ship a single zipped export.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Literal, Protocol

from erpsync.feeds.errors import FeedCompressionError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# One decompressed piece at most this large, so a small bomb cannot balloon memory in one call.
MAX_PIECE = 1024 * 1024

CompressionKind = Literal["none", "gzip", "zip"]


class Decompressor(Protocol):
    """Turns compressed bytes into plain bytes as they arrive."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompress what `data` completes, in pieces of at most MAX_PIECE bytes."""
        ...

    def close(self) -> None:
        """Raise if the compressed stream ended early."""
        ...


def sniff_compression(head: bytes) -> CompressionKind:
    """The compression the first bytes announce."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return "none"


def open_decompressor(kind: CompressionKind, *, feed: str) -> Decompressor:
    """A decompressor for `kind`; "none" passes bytes through."""
    if kind == "gzip":
        return GzipDecompressor(feed=feed)
    if kind == "zip":
        return ZipDecompressor(feed=feed)
    return PassThrough()


class PassThrough:
    """Uncompressed feeds go straight through."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Hand the bytes on unchanged."""
        if data:
            yield data

    def close(self) -> None:
        """Nothing can be truncated here."""


def _drain(decompressor: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    piece = decompressor.decompress(data, MAX_PIECE)
    if piece:
        yield piece
    while decompressor.unconsumed_tail:
        piece = decompressor.decompress(decompressor.unconsumed_tail, MAX_PIECE)
        if piece:
            yield piece


class GzipDecompressor:
    """gzip, including files made of several concatenated members (as `cat a.gz b.gz` gives)."""

    def __init__(self, *, feed: str) -> None:
        self._feed = feed
        self._zlib = zlib.decompressobj(wbits=31)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompress a chunk, starting a new member whenever one ends."""
        try:
            while data:
                self._started = True
                yield from _drain(self._zlib, data)
                if not self._zlib.eof:
                    return
                # Another member may follow; NUL padding after the last one is tolerated.
                data = self._zlib.unused_data.lstrip(b"\x00")
                self._zlib = zlib.decompressobj(wbits=31)
                self._started = False
        except zlib.error as exc:
            raise FeedCompressionError(self._feed, f"corrupt gzip data ({exc})") from exc

    def close(self) -> None:
        """A member cut short means the download or the export was truncated."""
        if self._started and not self._zlib.eof:
            raise FeedCompressionError(self._feed, "gzip data ends early (truncated file)")


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_STORED = 0
_DEFLATED = 8


class ZipDecompressor:
    """The first file of a zip archive, read from its local header without the central directory."""

    def __init__(self, *, feed: str) -> None:
        self._feed = feed
        self._buffer = b""
        self._zlib: zlib._Decompress | None = None
        self._stored_left = -1
        self._expected_crc: int | None = None
        self._crc = 0
        self._done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompress a chunk of the first file; bytes after it are ignored."""
        if self._done:
            return
        if self._zlib is None and self._stored_left < 0:
            self._buffer += data
            data = self._read_header()
            if self._zlib is None and self._stored_left < 0:
                return
        if self._stored_left >= 0:
            piece = data[: self._stored_left]
            self._stored_left -= len(piece)
            yield from self._checked(piece)
            if self._stored_left == 0:
                self._finish()
            return
        assert self._zlib is not None
        try:
            for piece in _drain(self._zlib, data):
                yield from self._checked(piece)
        except zlib.error as exc:
            raise FeedCompressionError(self._feed, f"corrupt zip data ({exc})") from exc
        if self._zlib.eof:
            self._finish()

    def _checked(self, piece: bytes) -> Iterator[bytes]:
        if piece:
            self._crc = zlib.crc32(piece, self._crc)
            yield piece

    def _read_header(self) -> bytes:
        """Parse local headers until the first file's data starts; return the data bytes seen so far."""
        while len(self._buffer) >= _LOCAL_HEADER.size:
            (
                signature,
                _version,
                flags,
                method,
                _time,
                _date,
                crc,
                compressed,
                _size,
                name_len,
                extra_len,
            ) = _LOCAL_HEADER.unpack_from(self._buffer)
            if signature != ZIP_MAGIC:
                raise FeedCompressionError(self._feed, "not a zip archive, or it holds no file")
            start = _LOCAL_HEADER.size + name_len + extra_len
            if len(self._buffer) < start:
                return b""
            name = self._buffer[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_len]
            if flags & 0x1:
                raise FeedCompressionError(self._feed, "the zip archive is encrypted")
            described_later = bool(flags & 0x8)
            if name.endswith(b"/") and not described_later:
                # A directory entry: skip it and its (empty) data.
                if len(self._buffer) < start + compressed:
                    return b""
                self._buffer = self._buffer[start + compressed :]
                continue
            if method == _DEFLATED:
                self._zlib = zlib.decompressobj(wbits=-15)
            elif method == _STORED and not described_later:
                self._stored_left = compressed
            else:
                raise FeedCompressionError(
                    self._feed, f"zip compression method {method} is not supported (use deflate)"
                )
            self._expected_crc = None if described_later else crc
            data, self._buffer = self._buffer[start:], b""
            return data
        return b""

    def _finish(self) -> None:
        self._done = True
        if self._expected_crc is not None and self._expected_crc != self._crc:
            raise FeedCompressionError(self._feed, "zip data fails its CRC check (corrupt file)")

    def close(self) -> None:
        """The first file must have ended; an archive cut before that is truncated."""
        if not self._done:
            if self._zlib is None and self._stored_left < 0:
                raise FeedCompressionError(self._feed, "not a zip archive, or it holds no file")
            raise FeedCompressionError(self._feed, "zip data ends early (truncated file)")
