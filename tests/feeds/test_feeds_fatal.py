"""A feed that is not what it claims stops the run with one clear reason, before any record is used."""

from __future__ import annotations

import gzip
import io
import zipfile
from typing import Any

import pytest
from feed_support import parse_bytes

from erpsync.errors import ErpsyncError
from erpsync.feeds import (
    FeedCompressionError,
    FeedEncodingError,
    FeedError,
    FeedFormatError,
    FeedLayoutError,
    UnsafeFeedError,
)


def _encrypted_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("feed.csv", b"sku\nA\n" * 100)
    data = bytearray(buffer.getvalue())
    data[6] |= 0x1  # the encrypted flag of the first local header
    return bytes(data)


FATAL_CASES: list[tuple[str, bytes, str, dict[str, Any], type[FeedError], str]] = [
    ("html as json", b"<!DOCTYPE html><html>502 Bad Gateway</html>", "feed.json", {}, FeedFormatError, "HTML"),
    ("csv as json", b"sku,name\nA,b\n", "feed.json", {}, FeedFormatError, "not JSON"),
    ("json as xml", b'[{"a": 1}]', "feed.xml", {}, FeedFormatError, "not XML"),
    ("xml as csv", b"<catalog/>", "feed.csv", {}, FeedFormatError, "not CSV"),
    ("binary as csv", b"sku\x00\x01\x02", "feed.csv", {}, FeedFormatError, "binary"),
    ("truncated json array", b'[{"sku": "A"}, {"sku": "B"', "feed.json", {}, FeedFormatError, "truncated"),
    ("broken json element", b'[{"sku": "A"}, {"sku" "B"}, {"sku": "C"}]', "feed.json", {}, FeedFormatError,
     "not valid JSON"),
    ("trailing garbage", b'[{"sku": "A"}] x', "feed.json", {}, FeedFormatError, "after the end"),
    ("missing records_path", b'{"data": [{"sku": "A"}]}', "feed.json", {"records_path": "items"},
     FeedLayoutError, "records_path 'items' matches nothing; the top-level object holds: data"),
    ("object without records_path", b'{"data": [1]}', "feed.json", {}, FeedFormatError, "records_path"),
    ("records_path on array", b'[{"a": 1}]', "feed.json", {"records_path": "a"}, FeedFormatError, "array"),
    ("bad jsonl line", b'{"sku": "A"}\n{"sku": \n{"sku": "C"}\n', "feed.jsonl", {}, FeedFormatError, "record 2"),
    ("bad utf-8", b"sku,name\nA,caf\xe9\n", "feed.csv", {}, FeedEncodingError, "utf-8"),
    ("undefined cp1252", b"sku,name\nA,\x81\n", "feed.csv", {"encoding": "cp1252"}, FeedEncodingError, "cp1252"),
    ("unclosed quote", b'sku,name\nA,"never closed\n', "feed.csv", {}, FeedFormatError, "quoted field"),
    ("xml doctype", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r><i>&e;</i></r>', "feed.xml", {},
     UnsafeFeedError, "DOCTYPE"),
    ("xml entity from the dtd", b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r><i>&e;</i></r>', "feed.xml", {},
     UnsafeFeedError, "only its DTD defines"),
    ("xml undefined entity", b"<r><i>&nope;</i></r>", "feed.xml", {}, FeedFormatError, "undefined entity"),
    ("xml truncated", b"<r><i><sku>A</sku></i><i>", "feed.xml", {}, FeedFormatError, "well-formed"),
    ("gzip truncated", gzip.compress(b"sku\nA\n" * 1000)[:-20], "feed.csv.gz", {}, FeedCompressionError,
     "truncated"),
    ("gzip corrupt", gzip.compress(b"sku\nA\n" * 1000)[:30] + b"\xff" * 60, "feed.csv.gz", {},
     FeedCompressionError, "corrupt"),
    ("not gzip", b"sku\nA\n", "feed.csv", {"compression": "gzip"}, FeedCompressionError, "not gzip"),
    ("gzip claimed none", gzip.compress(b"sku\nA\n"), "feed.csv", {"compression": "none"}, FeedFormatError,
     "compressed"),
    ("zip encrypted", _encrypted_zip(), "feed.zip", {"format": "csv"}, FeedCompressionError, "encrypted"),
    ("zip truncated", _encrypted_zip()[:40], "feed.zip", {"format": "csv"}, FeedCompressionError, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "data", "name", "options", "error", "reason"), FATAL_CASES, ids=[c[0] for c in FATAL_CASES]
)
def test_feeds_fatal_errors(
    *, label: str, data: bytes, name: str, options: dict[str, Any], error: type[FeedError], reason: str
) -> None:
    """Each kind of broken or mislabelled feed raises its own error naming the file and the reason."""
    options = dict(options)
    feed_format = options.pop("format", None)
    with pytest.raises(error) as caught:
        parse_bytes(data, name, format=feed_format, chunk=16, **options)
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"{name}: ")
    assert isinstance(caught.value, ErpsyncError)
    assert not caught.value.retryable


def test_feeds_fatal_before_any_record() -> None:
    """A mislabelled feed yields no record at all, so nothing of it can reach Shopify."""
    from erpsync.feeds import iter_records
    from erpsync.models import FormatOptions

    seen: list[object] = []

    def consume() -> None:
        chunks = [b"<html>" + b"x" * 10_000]
        for batch in iter_records(chunks, name="a.json", format=None, options=FormatOptions()):
            seen.extend(batch.records)

    with pytest.raises(FeedFormatError):
        consume()
    assert seen == []
