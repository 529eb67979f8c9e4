"""Errors raised while turning a feed's bytes into records; each one is fatal for the run.

    ErpsyncError                      (erpsync.errors)
    └── FeedError                     the feed is not what it claims; the message names the file
        ├── FeedFormatError           the bytes do not parse as the declared or detected format
        │   ├── FeedEncodingError     the text cannot be decoded with the configured encoding
        │   ├── FeedCompressionError  a gzip or zip stream is broken, or not compressed as claimed
        │   └── UnsafeFeedError       an XML internal DTD subset or entity (refused, never expanded)
        ├── FeedLayoutError           the mapped columns, records_path or sheet are not in the feed at all
        └── FeedLimitError            more rows or decompressed bytes than `[sync]` allows a feed

None is retryable: fetching the same bytes again gives the same answer.
"""

from __future__ import annotations

from erpsync.errors import ErpsyncError


class FeedError(ErpsyncError):
    """The feed cannot be read; no record of it may be used."""

    def __init__(self, feed: str, reason: str) -> None:
        super().__init__(f"{feed}: {reason}")
        self.feed = feed
        self.reason = reason


class FeedFormatError(FeedError):
    """The bytes are not valid in the format the config or the file name claims."""


class FeedEncodingError(FeedFormatError):
    """A byte sequence is not valid in the configured text encoding."""


class FeedCompressionError(FeedFormatError):
    """The compressed stream is truncated, corrupt, or not compressed the way the config says."""


class UnsafeFeedError(FeedFormatError):
    """The XML has an internal DTD subset or entities, which are refused rather than expanded."""


class FeedLayoutError(FeedError):
    """The feed parses, but the fields the mapping needs are absent (wrong delimiter, wrong file)."""


class FeedLimitError(FeedError):
    """The feed holds more rows or decompressed bytes than `[sync] max_feed_rows` / `max_feed_bytes`
    allow: a decompression bomb, or a feed far larger than the operator expects."""
