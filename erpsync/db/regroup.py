"""Regrouping: the SQL that keeps a SKU on one product when the feed groups its variants differently.

A product whose key the config does not track but whose SKUs it tracks under another key is the same
product regrouped (a `product_key` edit, an ERP that renumbered its parents): the tracked product it
shares most SKUs with takes the new key, and is updated in place. SKUs that still move between products
make their new product wait for the second publishing step (`phase` 2), once the old one gave them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db.pool import Executor

# New keys (untracked) and the tracked keys that hold their SKUs, with how many; the old key must have
# left the feed (no run row: a feed lists a SKU once, so an unchanged product cannot share one). The new
# keys are found first, by key, so that only their SKUs are unnested, not every SKU of the run.
# Each lookup is a scalar subquery, one index probe a row: as an anti-join, PostgreSQL planned a hash join
# over every last-written state (304 MB at 100,000 products, 0.65 s) when the tables' statistics were
# stale, as right after a first sync.
SELECT_REKEY_CANDIDATES = """
WITH fresh AS MATERIALIZED (
  SELECT rp.product_key, rp.skus FROM run_products rp
  WHERE rp.run_id = $1 AND rp.ordinal IS NOT NULL AND rp.action IS DISTINCT FROM 'conflict'
    AND (SELECT 1 FROM product_states ps WHERE ps.config_id = $2 AND ps.product_key = rp.product_key) IS NULL
), held AS MATERIALIZED (
  SELECT f.product_key AS new_key,
         (SELECT p.product_key FROM products p WHERE p.config_id = $2 AND p.sku = s.sku) AS old_key
  FROM fresh f CROSS JOIN LATERAL unnest(f.skus) AS s(sku)
)
SELECT new_key, old_key, count(*) AS shared FROM held
WHERE old_key IS NOT NULL AND old_key <> new_key AND NOT (old_key = ANY($3::text[]))
  AND (SELECT 1 FROM run_products other WHERE other.run_id = $1 AND other.product_key = held.old_key) IS NULL
GROUP BY new_key, old_key
ORDER BY shared DESC, new_key, old_key
"""
REKEY_STATES = """
UPDATE product_states ps SET product_key = t.new_key, updated_at = now()
FROM unnest($2::text[], $3::text[]) AS t(old_key, new_key)
WHERE ps.config_id = $1 AND ps.product_key = t.old_key
"""
REKEY_VARIANTS = """
UPDATE products p SET product_key = t.new_key, updated_at = now()
FROM unnest($2::text[], $3::text[]) AS t(old_key, new_key)
WHERE p.config_id = $1 AND p.product_key = t.old_key
"""
# Writes that take a SKU another tracked product of the config holds: sent in the second step.
MARK_TAKERS = """
UPDATE run_products rp SET phase = 2
WHERE rp.run_id = $1 AND rp.action IN ('create', 'update')
  AND EXISTS (SELECT 1 FROM products p
              WHERE p.config_id = $2 AND p.sku = ANY(rp.skus) AND p.product_key <> rp.product_key)
"""
# Updates that drop variants the product has in the shop (by tracking), with the SKUs they drop.
SELECT_VARIANT_REMOVALS = """
SELECT rp.product_key, array_agg(p.sku ORDER BY p.sku) AS skus
FROM run_products rp
JOIN products p ON p.config_id = $2 AND p.product_key = rp.product_key AND NOT (p.sku = ANY(rp.skus))
WHERE rp.run_id = $1 AND rp.action = 'update'
GROUP BY rp.product_key
ORDER BY rp.product_key
"""
COUNT_TRACKED_VARIANTS = """
SELECT count(*) FROM products p
JOIN product_states ps ON ps.config_id = p.config_id AND ps.product_key = p.product_key AND ps.state = 'active'
WHERE p.config_id = $1
"""
HOLD_WRITES = """
UPDATE run_products SET action = 'held', message = $3
WHERE run_id = $1 AND product_key = ANY($2::text[])
"""
# Before the second step: a taker whose SKU is still on another product (its write failed or was held)
# is not sent, so the SKU is never on two products at once.
FAIL_BLOCKED_TAKERS = """
WITH blocked AS (
    SELECT rp.product_key, min(p.sku) AS sku, min(p.product_key) AS holder
    FROM run_products rp
    JOIN products p ON p.config_id = $2 AND p.sku = ANY(rp.skus) AND p.product_key <> rp.product_key
    WHERE rp.run_id = $1 AND rp.phase = 2 AND rp.action IN ('create', 'update') AND rp.outcome IS NULL
    GROUP BY rp.product_key
)
UPDATE run_products rp SET outcome = 'failed',
    message = 'SKU ' || b.sku || ' is still on product ' || b.holder
              || ' (its own change did not go through); not written, so that no SKU is on two products'
FROM blocked b
WHERE rp.run_id = $1 AND rp.product_key = b.product_key
RETURNING rp.product_key, rp.skus, rp.message
"""


@dataclass(frozen=True, slots=True)
class Rekey:
    old_key: str
    new_key: str


async def rekey_regrouped(
    conn: asyncpg.Connection[Any], *, run_id: int, config_id: str, rejected_keys: Sequence[str]
) -> list[Rekey]:
    """Give each regrouped product the tracked product it shares most SKUs with, one to one."""
    rows = await conn.fetch(SELECT_REKEY_CANDIDATES, run_id, config_id, sorted(rejected_keys))
    taken_old: set[str] = set()
    taken_new: set[str] = set()
    chosen: list[Rekey] = []
    for row in rows:  # most shared SKUs first: greedy, deterministic
        if row["old_key"] in taken_old or row["new_key"] in taken_new:
            continue
        taken_old.add(row["old_key"])
        taken_new.add(row["new_key"])
        chosen.append(Rekey(row["old_key"], row["new_key"]))
    if chosen:
        old = [item.old_key for item in chosen]
        new = [item.new_key for item in chosen]
        await conn.execute(REKEY_STATES, config_id, old, new)
        await conn.execute(REKEY_VARIANTS, config_id, old, new)
    return chosen


async def mark_takers(conn: Executor, *, run_id: int, config_id: str) -> int:
    result = await conn.execute(MARK_TAKERS, run_id, config_id)
    return int(result.split()[-1])


async def variant_removals(conn: Executor, *, run_id: int, config_id: str) -> dict[str, list[str]]:
    rows = await conn.fetch(SELECT_VARIANT_REMOVALS, run_id, config_id)
    return {row["product_key"]: list(row["skus"]) for row in rows}


async def count_tracked_variants(conn: Executor, config_id: str) -> int:
    return int(await conn.fetchval(COUNT_TRACKED_VARIANTS, config_id))


async def hold_writes(conn: Executor, *, run_id: int, keys: Sequence[str], reason: str) -> None:
    await conn.execute(HOLD_WRITES, run_id, list(keys), reason)


async def fail_blocked_takers(
    conn: Executor, run_id: int, config_id: str
) -> list[tuple[str, list[str], str]]:
    """Mark the second step's writes whose SKUs are still on other products failed; returns them."""
    rows = await conn.fetch(FAIL_BLOCKED_TAKERS, run_id, config_id)
    return [(row["product_key"], list(row["skus"]), row["message"]) for row in rows]
