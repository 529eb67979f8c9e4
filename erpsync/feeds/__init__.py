"""Feeds: a source's raw bytes to batches of records (CSV, JSON, JSON Lines, XML, XLSX, ODS; gzip or zip)."""

from __future__ import annotations

from erpsync.feeds.errors import (
    FeedCompressionError,
    FeedEncodingError,
    FeedError,
    FeedFormatError,
    FeedLayoutError,
    FeedLimitError,
    UnsafeFeedError,
)
from erpsync.feeds.reader import FeedDecoder, iter_records, read_records
from erpsync.feeds.records import RecordBatch

__all__ = [
    "FeedCompressionError",
    "FeedDecoder",
    "FeedEncodingError",
    "FeedError",
    "FeedFormatError",
    "FeedLayoutError",
    "FeedLimitError",
    "RecordBatch",
    "UnsafeFeedError",
    "iter_records",
    "read_records",
]
