"""The `file` source: a local path (or the newest file matching a glob), read in blocks off the loop.

Under a source policy the file a glob picks is resolved, links and `..` followed, and checked against
`[sync] file_root` before it is opened: the policy checks the glob's directory, and a link in that
directory could otherwise read any file on the machine.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from erpsync.models import SyncConfig
from erpsync.sources.base import (
    FeedInfo,
    FeedStream,
    has_glob,
    newest_match,
    no_bytes,
    read_blocks,
    same_file,
)
from erpsync.sources.errors import SourceAuthError, SourceNotFound
from erpsync.sources.policy import SourceForbidden, SourcePolicy, confined

HOST = "localhost"


def resolve_path(pattern: str, root: Path | None = None) -> tuple[str, str]:
    """The file `pattern` names, or the newest file matching it when it holds a glob: its name and the
    path to open.

    With a `root`, the match is resolved (links and `..` followed) and must lie inside it. A newest
    match that leads outside is refused, naming it, and no older match is read in its place: the link
    is either an attempt to read another file or a misplaced feed, and syncing an older feed would undo
    the shop's changes since. Older matches leading outside are never read, so they need no check. The
    path opened is the real path that was checked: re-pointing the link after the check changes nothing.
    """
    if not has_glob(pattern):
        return pattern, pattern
    match = _newest(pattern)
    if root is None:
        return match, match
    target = confined(match, root)
    if target is None:
        raise SourceForbidden(
            HOST,
            match,
            f"is the newest match of {os.path.basename(pattern)} but leads outside the allowed directory "
            f"{root}; it is not read, and no older match is read in its place",
        )
    return match, target


def _newest(pattern: str) -> str:
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
async def open_file(
    config: SyncConfig, *, previous: FeedInfo | None = None, policy: SourcePolicy | None = None
) -> AsyncIterator[FeedStream]:
    """Stream a local file; under a `policy` a glob's pick must lie inside its file_root. A file whose
    stat (size, mtime, inode) is `previous`'s is not opened: the stream is `not_modified`."""
    pattern = config.credentials.file_path or ""
    root = policy.file_root if policy is not None else None
    path, target = await asyncio.to_thread(resolve_path, pattern, root)
    if previous is not None and previous.validator is not None:
        try:
            validator = stat_validator(path, await asyncio.to_thread(os.stat, target))
        except OSError:
            validator = None  # opening says why
        if same_file(previous, validator):
            yield FeedStream(no_bytes(), name=path, host=HOST, not_modified=True, validator=validator)
            return
    try:
        handle = await asyncio.to_thread(open, target, "rb")
    except FileNotFoundError:
        raise SourceNotFound(HOST, path, "no such file") from None
    except IsADirectoryError:
        raise SourceNotFound(HOST, path, "is a directory, not a file") from None
    except PermissionError:
        raise SourceAuthError(HOST, path, "permission denied") from None
    try:
        status = os.fstat(handle.fileno())
        yield FeedStream(
            read_blocks(handle),
            name=path,
            host=HOST,
            # A pipe or a device has no size to check the transfer against.
            expected_size=status.st_size if stat.S_ISREG(status.st_mode) else None,
            mtime=datetime.fromtimestamp(status.st_mtime, UTC),
            validator=stat_validator(path, status),
        )
    finally:
        handle.close()


def stat_validator(path: str, status: os.stat_result) -> dict[str, Any] | None:
    """What identifies a regular file without reading it; a pipe or a device has nothing to compare."""
    if not stat.S_ISREG(status.st_mode):
        return None
    return {
        "path": path,
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "inode": status.st_ino,
        "device": status.st_dev,
    }
