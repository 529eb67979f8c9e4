"""Sources: a feed's bytes from FTP, FTPS, SFTP, HTTP or a local file, streamed and hashed."""

from __future__ import annotations

from erpsync.sources.base import BLOCK_SIZE, FeedInfo, FeedStream, open_feed
from erpsync.sources.errors import (
    SourceAuthError,
    SourceCut,
    SourceError,
    SourceNotFound,
    SourceRefused,
    SourceTimeout,
    SourceTrustError,
    SourceUnavailable,
)

__all__ = [
    "BLOCK_SIZE",
    "FeedInfo",
    "FeedStream",
    "SourceAuthError",
    "SourceCut",
    "SourceError",
    "SourceNotFound",
    "SourceRefused",
    "SourceTimeout",
    "SourceTrustError",
    "SourceUnavailable",
    "open_feed",
]
