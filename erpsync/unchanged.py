"""An unchanged feed costs almost nothing: before a run asks the shop anything, the source is asked whether
its file is the one the config's last succeeded run synced.

The source answers without sending the feed where it can: HTTP by a conditional GET (304, no body), FTP by
the file's modification time and size, SFTP and file by stat. Otherwise — no validator, or a new one — the
feed is downloaded (a local file is only read) and hashed before anything parses it: the same SHA-256 ends
the run too. Either way the run ends `unchanged` only when nothing else needs work
(`fingerprints.work_besides_feed`): the run that synced the feed is still the config's last that did
anything. A downloaded feed that differs is parsed from its local copy, never fetched twice.

A validator is kept only for a file last modified a while (SETTLE_SECONDS) before it was fetched, unless
it is an ETag: two writes of one size within one tick of the source's clock (a second over FTP) would
otherwise look like one file, and the second would never be read.

A dry run never takes this path: it shows the plan, which the shop's facts are part of.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from erpsync.constants import HASH_VERSION, RunStatus
from erpsync.db import fingerprints as fingerprint_store
from erpsync.db import runs as run_store
from erpsync.db.logs import add_log
from erpsync.logs import get_logger
from erpsync.models import SyncConfig
from erpsync.run_result import Stopwatch, SyncResult
from erpsync.settings import Settings
from erpsync.sources import FeedInfo, FeedStream, open_feed
from erpsync.sources.policy import SourcePolicy

log = get_logger("erpsync.unchanged")

DOWNLOAD_NAME = "feed.download"
SETTLE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the source said. `reason` set: the run ends `unchanged`. `local`: the feed, downloaded."""

    reason: str | None = None
    info: FeedInfo | None = None
    local: Path | None = None
    transferred: int = 0
    fetched_at: datetime | None = None  # when the source was asked: a validator settles from then

    def downloaded(self) -> tuple[Path, FeedInfo] | None:
        """The feed's local copy and what the source said of it, when it was downloaded to be parsed."""
        return (self.local, self.info) if self.local is not None and self.info is not None else None


def config_version(settings: Settings, config: SyncConfig, updated_at: datetime) -> str:
    """Changes with any edit of the stored config (secrets included: each edit moves `updated_at`), with
    erpsync's HASH_VERSION and with the shop and API version the run writes to."""
    facts: dict[str, Any] = {
        "hash_version": HASH_VERSION,
        "config": config.model_dump(mode="json"),
        "updated_at": updated_at.isoformat(),
        "shop": settings.shopify.shop,
        "base_url": settings.shopify.base_url,
        "api_version": settings.shopify.api_version,
        "limits": [settings.sync.max_feed_rows, settings.sync.max_feed_bytes],
    }
    return hashlib.sha256(orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def check_feed(
    conn: asyncpg.Connection[Any],
    settings: Settings,
    config: SyncConfig,
    *,
    run_id: int,
    version: str,
    work_dir: Path,
) -> Verdict:
    """Whether the run can end `unchanged`; else, maybe, the feed already downloaded."""
    fingerprint = await fingerprint_store.read_fingerprint(conn, config.id)
    if fingerprint is None:
        return Verdict()
    why = await fingerprint_store.work_besides_feed(
        conn, config.id, run_id, fingerprint, config_version=version
    )
    if why is not None:
        log.info("the feed is read in full", reason=why)
        return Verdict()
    previous = fingerprint.previous()
    fetched_at = datetime.now(UTC)
    async with open_feed(config, previous=previous, policy=SourcePolicy.of(settings.sync)) as stream:
        if stream.not_modified:
            return Verdict(f"source not modified ({describe(stream)})", stream.info())
        local = None if config.connection_type == "file" else work_dir / DOWNLOAD_NAME
        if not await _take(stream, local, settings.sync.max_feed_bytes):
            return Verdict()  # too large: the read stage fails it with its own words
        info = stream.info()
    if info.sha256 == fingerprint.feed_sha256:
        _drop(local)
        await fingerprint_store.set_validator(conn, config.id, settled(info, fetched_at))
        return Verdict(
            f"same bytes (sha256 {info.sha256[:12]}…)", info, transferred=_transferred(config, info)
        )
    return Verdict(None, info, local, transferred=_transferred(config, info), fetched_at=fetched_at)


def settled(info: FeedInfo, fetched_at: datetime) -> FeedInfo:
    """`info` with its validator only if the file was last modified SETTLE_SECONDS before `fetched_at`
    (or the validator is an ETag); without one the next run downloads and hashes the feed."""
    if info.etag or info.mtime is None or info.mtime <= fetched_at - timedelta(seconds=SETTLE_SECONDS):
        return info
    return replace(info, validator=None)


def describe(stream: FeedStream) -> str:
    """The validator the source matched, as the run's counts name it."""
    if stream.etag:
        return f"ETag {stream.etag}"
    if stream.last_modified:
        return f"Last-Modified {stream.last_modified}"
    validator = stream.validator or {}
    if "modified" in validator:
        return f"modified {validator['modified']}, {validator['size']} bytes"
    return f"stat: {validator.get('size')} bytes, same mtime" + (" and inode" if "inode" in validator else "")


async def _take(stream: FeedStream, local: Path | None, max_bytes: int) -> bool:
    """Read the whole stream (hashed as it passes), into `local` when given; False past `max_bytes`."""
    size = 0
    handle = None
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        handle = local.open("wb")
    try:
        async for chunk in stream:
            size += len(chunk)
            if max_bytes and size > max_bytes:
                break
            if handle is not None:
                handle.write(chunk)
        else:
            return True
    finally:
        if handle is not None:
            handle.close()
    _drop(local)
    return False


def _transferred(config: SyncConfig, info: FeedInfo) -> int:
    return 0 if config.connection_type == "file" else info.size


async def finish_unchanged(
    conn: asyncpg.Connection[Any],
    *,
    config_id: str,
    run_id: int,
    verdict: Verdict,
    stopwatch: Stopwatch,
    work_dir: Path,
    counts: dict[str, Any] | None = None,
) -> SyncResult:
    """Close the run `unchanged`: nothing parsed, nothing written to the shop (`counts`: what the drift
    check found and did not need to write)."""
    stopwatch.enter("")
    counts = {
        **(counts or {}),
        "unchanged_reason": verdict.reason,
        "feed_bytes_transferred": verdict.transferred,
        "seconds": stopwatch.timings,
    }
    fingerprint = await fingerprint_store.read_fingerprint(conn, config_id)
    if fingerprint is not None:
        await run_store.set_feed(conn, run_id, fingerprint.feed_sha256, fingerprint.feed_bytes)
    await run_store.finish_run(conn, run_id, RunStatus.UNCHANGED, counts)
    await add_log(
        conn, config_id=config_id, run_id=run_id, level="info", message=f"feed unchanged: {verdict.reason}"
    )
    shutil.rmtree(work_dir, ignore_errors=True)
    log.info("sync finished", status=RunStatus.UNCHANGED, reason=verdict.reason)
    return SyncResult(run_id, RunStatus.UNCHANGED, counts)


def _drop(local: Path | None) -> None:
    """A downloaded copy no longer needed (the run's directory goes at the run's end too)."""
    if local is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local)
