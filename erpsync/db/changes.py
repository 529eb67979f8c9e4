"""`run_changes`: the journal of what each run did to each product, and its two read paths.

A run's working rows (`run_products`) are copied into the journal in one statement as the run ends, just
before they are cleared: nothing per product is held in memory, and products the run found unchanged are
not journalled (the run's counts say how many), so a run that changes nothing writes nothing here.
Pages are keyset-paginated by the journal row's id: a cursor stays valid while new runs are journalled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from erpsync.db import products as store
from erpsync.db.pool import Executor

# `retry` says how often a line went again ('transient:N', after 'handle'/'stale' when it was sent again
# for that first): a product whose line was sent again and then written is `retried`. Conflicts (a SKU
# another config owns) and held writes (the delete guard) were never sent: `skipped`, with why. An update or
# a removal keeps the product as last written before the run (a create taken over by healing does not).
JOURNAL_RUN = """
INSERT INTO run_changes (run_id, config_id, product_key, skus, action, changes, result, attempts,
                         shopify_product_id, bulk_operation_id, line_number, message, written_before,
                         hash_before)
SELECT rp.run_id, $2, rp.product_key, rp.skus, rp.action,
       CASE WHEN rp.action = 'update' THEN rp.changes END,
       CASE WHEN rp.action IN ('conflict', 'held') THEN 'skipped'
            WHEN rp.outcome = 'ok' AND rp.retry ~ '(handle|stale|transient)' THEN 'retried'
            WHEN rp.outcome IN ('ok', 'failed') THEN rp.outcome
            ELSE 'unknown' END,
       CASE WHEN rp.action IN ('conflict', 'held') THEN 0
            ELSE 1 + coalesce(substring(rp.retry FROM 'transient:([0-9]+)')::int, 0)
                   + CASE WHEN rp.retry ~ '^(handle|stale)' THEN 1 ELSE 0 END END,
       coalesce(rp.shopify_product_id, ps.shopify_product_id), rp.bulk_operation_id, rp.line_number, rp.message,
       CASE WHEN rp.action <> 'create' THEN rp.written_before END,
       CASE WHEN rp.action <> 'create' THEN rp.hash_before END
FROM run_products rp
LEFT JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.action IS NOT NULL AND rp.action <> 'unchanged'
ORDER BY rp.ordinal NULLS LAST, rp.product_key
"""
COLUMNS = """
id, run_id, config_id, product_key, skus, action, changes, result, attempts, shopify_product_id,
bulk_operation_id, line_number, message, at
"""
SELECT_RUN_CHANGES = f"""
SELECT {COLUMNS} FROM run_changes
WHERE run_id = $1 AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR skus @> ARRAY[$3::text])
  AND id > $4
ORDER BY id LIMIT $5
"""
# Every product of the config that ever had the SKU on one of its variants, with its whole history.
SELECT_HISTORY = f"""
SELECT {COLUMNS} FROM run_changes
WHERE config_id = $1
  AND product_key IN (SELECT DISTINCT product_key FROM run_changes WHERE config_id = $1 AND skus @> ARRAY[$2::text])
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4
"""
RUN_EXISTS = "SELECT EXISTS (SELECT 1 FROM sync_runs WHERE id = $1)"
PRUNE_CHANGES = """
DELETE FROM run_changes WHERE id IN (SELECT id FROM run_changes WHERE at < $1 LIMIT $2)
"""


@dataclass(frozen=True, slots=True)
class Change:
    """One product and what the run did to it."""

    id: int
    run_id: int
    config_id: str
    product_key: str
    skus: list[str]
    action: str
    changes: list[dict[str, Any]] | None
    result: str
    attempts: int
    shopify_product_id: str | None
    bulk_operation_id: str | None
    line_number: int | None
    message: str | None
    at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Change:
        values = {name: row[name] for name in cls.__slots__}
        values["skus"] = list(values["skus"] or [])
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["at"] = self.at.isoformat()
        return data


async def journal_and_clear(
    conn: asyncpg.Connection[Any], run_id: int, config_id: str, *, journal: bool = True
) -> None:
    """The run ended: journal its products (unless nothing was sent), then forget its working rows."""
    async with conn.transaction():
        if journal:
            await conn.execute(JOURNAL_RUN, run_id, config_id)
        await store.clear_run_products(conn, run_id)


async def run_exists(conn: Executor, run_id: int) -> bool:
    return bool(await conn.fetchval(RUN_EXISTS, run_id))


async def run_changes(
    conn: Executor,
    run_id: int,
    *,
    action: str | None = None,
    sku: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Change]:
    """A run's journal in order, from after the row `after`."""
    rows = await conn.fetch(SELECT_RUN_CHANGES, run_id, action, sku, after, limit)
    return [Change.from_row(row) for row in rows]


async def product_history(
    conn: Executor, config_id: str, sku: str, *, before: int | None = None, limit: int = 100
) -> list[Change]:
    """What every run did to the product holding `sku` on any of its variants, newest first."""
    rows = await conn.fetch(SELECT_HISTORY, config_id, sku, before, limit)
    return [Change.from_row(row) for row in rows]


async def prune_changes(conn: Executor, before: datetime, batch: int) -> int:
    """Delete journal rows older than `before`, a batch at a time; how many went."""
    total = 0
    while True:
        status = await conn.execute(PRUNE_CHANGES, before, batch)
        deleted = int(status.rsplit(" ", 1)[-1])
        total += deleted
        if deleted < batch:
            return total
