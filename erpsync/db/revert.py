"""The SQL of reverting a run: whether a run can be reverted, its journal beside what the config tracks
now, and the revert's own run rows (`erpsync.revert`).

A product is "changed since" when a later run of the config journalled it with a write that went through
or may have (`ok`, `retried`, `unknown`), by its key or by any SKU it has or had before the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db.pool import Executor

# The run to revert: what decides whether it can be, in one row.
SELECT_TARGET = """
SELECT r.id, r.config_id, r.status, r.dry_run,
       EXISTS (SELECT 1 FROM product_sync_configs c WHERE c.id = r.config_id) AS config_exists,
       (SELECT max(v.id) FROM sync_runs v WHERE v.reverts_run_id = r.id AND v.status = 'succeeded')
         AS reverted_by,
       EXISTS (SELECT 1 FROM run_changes rc WHERE rc.run_id = r.id
               AND rc.action IN ('create', 'update', 'delete', 'archive', 'draft')) AS wrote
FROM sync_runs r WHERE r.id = $1
"""
# A page of the reverted run's journal, each row with the product as the config tracks it now and the
# first later run that changed it (by key, or by a SKU it has or had before the run).
SELECT_JOURNAL_PAGE = """
SELECT rc.id, rc.product_key, rc.skus, rc.action, rc.result, rc.changes, rc.shopify_product_id,
       rc.written_before, rc.hash_before,
       ps.written AS written_now, ps.content_hash AS hash_now, ps.state, ps.shopify_product_id AS product_id_now,
       (SELECT min(l.run_id) FROM run_changes l
        WHERE l.config_id = rc.config_id AND l.run_id > rc.run_id AND l.result IN ('ok', 'retried', 'unknown')
          AND (l.product_key = rc.product_key
               OR l.skus && (rc.skus || ARRAY(SELECT v->>'sku'
                                              FROM jsonb_array_elements(coalesce(rc.written_before->'variants',
                                                                                 '[]'::jsonb)) v)))
       ) AS later_run
FROM run_changes rc
LEFT JOIN product_states ps ON ps.config_id = rc.config_id AND ps.product_key = rc.product_key
WHERE rc.run_id = $1 AND rc.id > $2
ORDER BY rc.id LIMIT $3
"""
INVERSE_COLUMNS = (
    "run_id",
    "product_key",
    "ordinal",
    "content_hash",
    "skus",
    "input",
    "action",
    "shopify_product_id",
    "written_before",
    "hash_before",
)
# Rows whose product the shop is asked about: updates and removals (a product created again is looked for
# by SKU instead), with what erpsync wrote last (`written_before`: what the revert's write replaces).
SELECT_SHOP_CHECKED = """
SELECT product_key, shopify_product_id FROM run_products
WHERE run_id = $1 AND action IN ('update', 'delete', 'archive', 'draft') AND shopify_product_id IS NOT NULL
ORDER BY product_key
"""
SELECT_EXPECTED = """
SELECT rp.product_key, rp.skus, rp.written_before, ps.state FROM run_products rp
LEFT JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.product_key = ANY($3::text[])
"""
SELECT_RECREATES = (
    "SELECT product_key, skus FROM run_products WHERE run_id = $1 AND action = 'create' ORDER BY ordinal"
)
COUNT_REMOVALS = (
    "SELECT count(*) FROM run_products WHERE run_id = $1 AND action IN ('delete', 'archive', 'draft')"
)
REMOVAL_KEYS = """
SELECT product_key FROM run_products WHERE run_id = $1 AND action IN ('delete', 'archive', 'draft')
ORDER BY product_key
"""


@dataclass(frozen=True, slots=True)
class Target:
    """A run someone asked to revert, as PostgreSQL holds it."""

    run_id: int
    config_id: str
    status: str
    dry_run: bool
    config_exists: bool
    reverted_by: int | None  # a revert of it that succeeded
    wrote: bool  # its journal holds a write or a removal


async def revert_target(conn: Executor, run_id: int) -> Target | None:
    row = await conn.fetchrow(SELECT_TARGET, run_id)
    if row is None:
        return None
    return Target(
        run_id=int(row["id"]),
        config_id=str(row["config_id"]),
        status=str(row["status"]),
        dry_run=bool(row["dry_run"]),
        config_exists=bool(row["config_exists"]),
        reverted_by=row["reverted_by"],
        wrote=bool(row["wrote"]),
    )


async def journal_page(conn: Executor, run_id: int, *, after: int, limit: int) -> list[asyncpg.Record]:
    """The reverted run's journal rows after row `after`, with the product now and its later run."""
    return list(await conn.fetch(SELECT_JOURNAL_PAGE, run_id, after, limit))


async def insert_inverse(conn: asyncpg.Connection[Any], records: Sequence[tuple[Any, ...]]) -> None:
    """The revert's run rows (`INVERSE_COLUMNS`): writes in journal order, removals without an ordinal."""
    await conn.copy_records_to_table("run_products", records=records, columns=INVERSE_COLUMNS)


async def count_removals(conn: Executor, run_id: int) -> int:
    return int(await conn.fetchval(COUNT_REMOVALS, run_id))


async def removal_keys(conn: Executor, run_id: int) -> list[str]:
    return [str(row["product_key"]) for row in await conn.fetch(REMOVAL_KEYS, run_id)]


async def shop_checked(conn: Executor, run_id: int) -> list[asyncpg.Record]:
    """The revert's updates and removals: product key and shop product id."""
    return list(await conn.fetch(SELECT_SHOP_CHECKED, run_id))


async def expected_states(
    conn: Executor, run_id: int, config_id: str, keys: Sequence[str]
) -> list[asyncpg.Record]:
    """For these rows: SKUs, what erpsync wrote last, and the product's tracked state."""
    return list(await conn.fetch(SELECT_EXPECTED, run_id, config_id, list(keys)))


async def recreates(conn: Executor, run_id: int) -> list[asyncpg.Record]:
    """The products the revert creates again: key and SKUs."""
    return list(await conn.fetch(SELECT_RECREATES, run_id))
