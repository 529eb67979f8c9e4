"""The incremental drift check: what changed in the shop since the config's previous checked run.

The window starts at the moment the previous checked run asked the shop, less `[sync]
drift_overlap_seconds` (Shopify's search index and its events lag behind writes), so that an edit made
while that run was still writing is in this one's window. One small request says how many products were
updated and which were deleted in it; the updated ones are listed by id and `updatedAt` (a bulk export of
those two fields when many), and only those whose `updatedAt` is not the one erpsync last wrote or compared
are read in full and judged (`erpsync.drift.Judge`): the products the previous run wrote itself cost a
line each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from erpsync.db import drift as store
from erpsync.drift import BATCH, LIST_LIMIT, Judge, Tally, reading_for
from erpsync.logs import get_logger
from erpsync.models import SyncConfig
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.drift_reads import (
    ShopProduct,
    export_products,
    export_updated,
    list_updated,
    read_products,
    read_window,
    updated_search,
)

log = get_logger("erpsync.drift")

LISTED_BATCH = 5_000  # listed (id, updatedAt) pairs looked up in PostgreSQL at a time


async def check_drift(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    config: SyncConfig,
    run_id: int,
    shop: str,
    overlap_seconds: float,
    export_above: int,
) -> Tally:
    """The incremental check: what changed in the shop since the previous checked run, settled."""
    judge = Judge(conn, config, run_id, shop)
    if not await store.owns_any(conn, config.id):
        return judge.tally
    start = await store.window_start(conn, config.id, run_id)
    if start is None:
        return judge.tally
    since = start - timedelta(seconds=overlap_seconds)
    asked_at = datetime.now(UTC)
    window = await read_window(client, since)
    judge.tally.extra.update(
        since=since.isoformat(), updated_in_shop=window.updated, deleted_in_shop=len(window.deleted), known=0
    )
    changed: list[str] = []
    if window.updated:
        by_export = window.updated > min(LIST_LIMIT, export_above)
        changed = await changed_since(conn, client, judge, since, by_export=by_export)
    if changed:
        reading = await reading_for(conn, config)
        if len(changed) <= LIST_LIMIT:
            found = read_products(client, changed, reading, export_above=export_above)
        else:  # a mass edit in the shop: one export of every field beats reading them 250 at a time
            judge.tally.extra["known"] = 0  # counted again, product by product, as the export is judged
            found = export_products(client, updated_search(since), reading)
        batch: list[ShopProduct] = []
        async for product in found:
            batch.append(product)
            if len(batch) >= BATCH:
                await judge_batch(conn, judge, batch)
                batch = []
        await judge_batch(conn, judge, batch)
    if window.deleted:
        gone = await store.owned(conn, config.id, window.deleted)
        await judge.deleted(list(gone.values()), how="a product delete event")
    await store.set_checked(conn, run_id, asked_at)
    if judge.tally.drifted or judge.tally.deleted:
        log.warning("drift found in the shop", **judge.tally.as_counts())
    return judge.tally


async def changed_since(
    conn: asyncpg.Connection[Any], client: ShopifyClient, judge: Judge, since: datetime, *, by_export: bool
) -> list[str]:
    """The owned products updated after `since` whose `updatedAt` is not the one erpsync last wrote or
    compared: listed by id and time (a bulk export of those two fields when many, or past `[sync]
    sku_lookup_limit`), so the products the previous run wrote cost a line each, not a read of everything
    they hold."""
    items = export_updated(client, since) if by_export else list_updated(client, since)
    changed: list[str] = []
    known = 0
    page: list[tuple[str, str | None]] = []
    async for item in items:
        page.append(item)
        if len(page) >= LISTED_BATCH:
            known += await _sort_out(conn, judge.config.id, page, changed)
            page = []
    known += await _sort_out(conn, judge.config.id, page, changed)
    judge.tally.extra["known"] = known
    return changed


async def _sort_out(
    conn: asyncpg.Connection[Any], config_id: str, page: list[tuple[str, str | None]], changed: list[str]
) -> int:
    """Add the page's owned products that changed to `changed`; how many were owned and unchanged."""
    if not page:
        return 0
    owned = await store.owned_times(conn, config_id, [product_id for product_id, _ in page])
    fresh = [pid for pid, at in page if pid in owned and (at is None or owned[pid] != at)]
    changed += fresh
    return sum(1 for pid, _ in page if pid in owned) - len(fresh)


async def judge_batch(conn: asyncpg.Connection[Any], judge: Judge, batch: Sequence[ShopProduct]) -> None:
    """The owned products of a batch the shop updated since erpsync last wrote or compared them."""
    if not batch:
        return
    owned = await store.owned(conn, judge.config.id, [product.id for product in batch])
    pairs = [(owned[p.id], p) for p in batch if p.id in owned]
    fresh = [(o, p) for o, p in pairs if p.updated_at is None or o.shop_updated_at != p.updated_at]
    judge.tally.extra["known"] = judge.tally.extra.get("known", 0) + len(pairs) - len(fresh)
    await judge.products(fresh)


__all__ = ["check_drift"]
