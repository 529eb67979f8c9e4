"""The `file` source: a local path (or the newest file matching a glob), read in blocks off the loop."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import BinaryIO

from erpsync.models import SyncConfig
from erpsync.sources.base import BLOCK_SIZE, FeedInfo, FeedStream, has_glob, newest_match
from erpsync.sources.errors import SourceAuthError, SourceNotFound

HOST = "localhost"


def resolve_path(pattern: str) -> str:
    """The path itself, or the newest file matching it when it holds a glob."""
    if not has_glob(pattern):
        return pattern
    directory = os.path.dirname(pattern) or "."
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        raise SourceNotFound(HOST, pattern, "the directory does not exist") from None
    entries = []
    for name in names:
        full = os.path.join(directory, name)
        if os.path.isfile(full):
            entries.append((name, os.stat(full).st_mtime))
    match = newest_match(pattern, entries)
    if match is None:
        raise SourceNotFound(HOST, pattern, "no file matches the pattern")
    return match


@asynccontextmanager
async def open_file(config: SyncConfig, *, previous: FeedInfo | None = None) -> AsyncIterator[FeedStream]:
    """Stream a local file."""
    pattern = config.credentials.file_path or ""
    path = await asyncio.to_thread(resolve_path, pattern)
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        raise SourceNotFound(HOST, path, "no such file") from None
    except IsADirectoryError:
        raise SourceNotFound(HOST, path, "is a directory, not a file") from None
    except PermissionError:
        raise SourceAuthError(HOST, path, "permission denied") from None
    try:
        status = os.fstat(handle.fileno())
        yield FeedStream(
            _read_blocks(handle),
            name=path,
            host=HOST,
            # A pipe or a device has no size to check the transfer against.
            expected_size=status.st_size if stat.S_ISREG(status.st_mode) else None,
            mtime=datetime.fromtimestamp(status.st_mtime, UTC),
        )
    finally:
        handle.close()


async def _read_blocks(handle: BinaryIO) -> AsyncIterator[bytes]:
    while block := await asyncio.to_thread(handle.read, BLOCK_SIZE):
        yield block
