"""A run's fetch, parse and map stages in one stream: each product kept by a `RunSpool` as it comes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from erpsync.db import products as store
from erpsync.db import runs as run_store
from erpsync.feeds import read_records
from erpsync.limits import LimitCheck
from erpsync.mapping.drafts import MapOutcome
from erpsync.mapping.pipeline import FeedPipeline
from erpsync.models import SyncConfig
from erpsync.settings import Settings
from erpsync.sources import FeedInfo, open_feed
from erpsync.sources.base import open_local
from erpsync.sources.policy import SourcePolicy
from erpsync.spool import RunSpool

# Progress while reading is a committed row update: once a second is live enough for a watcher, where once
# every 5,000 rows cost 100 commits (each waiting on the WAL flush) over a 500,000-row feed.
PROGRESS_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class FeedRead:
    """The mapped feed and what the spool learnt of it while keeping its products."""

    outcome: MapOutcome
    info: FeedInfo
    products_kept: int
    unchanged_unlisted: int
    unmatched: list[str]


async def read_feed(
    conn: asyncpg.Connection[Any],
    settings: Settings,
    config: SyncConfig,
    *,
    run_id: int,
    work_dir: Path,
    spool_path: Path,
    location_id: str | None,
    currency: str | None,
    dry_run: bool,
    progress: Callable[[dict[str, Any]], Awaitable[None]],
    downloaded: tuple[Path, FeedInfo] | None = None,
) -> FeedRead:
    """Read the whole feed into the run's spool; prices are checked against the shop's `currency`.
    A feed `downloaded` already (its local copy and what the source said of it) is read from the copy."""
    await store.clear_run_products(conn, run_id)
    # About 100 bytes a tracked product in memory; the classification itself stays in SQL.
    spool = RunSpool(
        conn,
        run_id=run_id,
        path=spool_path,
        known=await store.known_hashes(conn, config.id),
        mapped=frozenset(config.mapping),
        location_id=location_id,
        dry_run=dry_run,
    )
    next_report = time.monotonic()  # the first batch is shown at once, then once a second
    limits = LimitCheck(settings.shopify.api_version)  # Shopify's input limits, before any write
    try:
        if downloaded is None:
            opened = open_feed(config, policy=SourcePolicy.of(settings.sync))
        else:
            host = config.credentials.host or urlsplit(config.credentials.url or "").hostname or "localhost"
            opened = open_local(str(downloaded[0]), name=downloaded[1].name, host=host)
        async with opened as stream:
            with FeedPipeline(config, feed=stream.name, currency=currency, work_dir=work_dir) as pipeline:
                async for records in read_records(
                    stream,
                    name=stream.name,
                    format=config.format,
                    options=config.format_options,
                    max_rows=settings.sync.max_feed_rows,
                    max_bytes=settings.sync.max_feed_bytes,
                ):
                    await spool.keep(limits.keep(pipeline.push(records)))
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + PROGRESS_SECONDS
                        await progress({"rows_read": pipeline.rows, "products_mapped": spool.ordinal})
                # A regrouped feed's products come now, from its sorted runs: a batch at a time.
                for ready in pipeline.drain():
                    await spool.keep(limits.keep(ready))
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + PROGRESS_SECONDS
                        await progress({"rows_read": pipeline.rows, "products_mapped": spool.ordinal})
                outcome = limits.outcome(pipeline.outcome())
            info = stream.info()
            if downloaded is not None:
                # What the source said of the file (its validators and modification time), not of the copy.
                source = downloaded[1]
                info = replace(
                    info, validator=source.validator, mtime=source.mtime, etag=source.etag,
                    last_modified=source.last_modified,
                )  # fmt: skip
    finally:
        spool.close()
    await spool.finish()
    await run_store.analyze_run_products(conn)
    await progress({"rows_read": outcome.rows, "products_mapped": spool.ordinal})
    return FeedRead(outcome, info, spool.ordinal, spool.unchanged_unlisted, spool.unmatched)
