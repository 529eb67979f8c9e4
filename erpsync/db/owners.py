"""One owner per SKU and shop: the claims a run makes on its SKUs before it adopts or creates anything.

Claims are taken in one transaction under a per-shop advisory lock, so of two runs that start at the same
moment on the same shop only the first claims a SKU; the second finds it owned and reports the conflict
instead of creating a second product or adopting the first config's product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db.pool import Executor

LOCK_SHOP = "SELECT pg_advisory_xact_lock(hashtext('erpsync:shop:' || $1))"

# The run's SKUs another config of the same shop owns, with that config.
SELECT_CONFLICTS = """
SELECT rp.product_key, s.sku, o.config_id AS owner
FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
JOIN sku_owners o ON o.shop = $3 AND o.sku = s.sku AND o.config_id <> $2
WHERE rp.run_id = $1 AND rp.ordinal IS NOT NULL
ORDER BY rp.product_key, s.sku
"""
MARK_CONFLICTS = """
UPDATE run_products SET action = 'conflict', message = t.message
FROM unnest($2::text[], $3::text[]) AS t(product_key, message)
WHERE run_id = $1 AND run_products.product_key = t.product_key
"""
CLAIM_SKUS = """
INSERT INTO sku_owners (shop, sku, config_id, run_id)
SELECT $3, s.sku, $2, $1
FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
WHERE rp.run_id = $1 AND rp.ordinal IS NOT NULL AND rp.action IS DISTINCT FROM 'conflict'
ON CONFLICT (shop, sku) DO UPDATE SET run_id = EXCLUDED.run_id
WHERE sku_owners.config_id = EXCLUDED.config_id
"""
# Claims of SKUs the config neither tracks nor listed in this run (a create that never succeeded, a SKU
# that left the feed): given up, so another config may take them.
RELEASE_STALE_CLAIMS = """
DELETE FROM sku_owners o
WHERE o.config_id = $2 AND o.run_id IS DISTINCT FROM $1
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = o.sku)
"""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A product of the feed holding a SKU that another config owns in the same shop."""

    product_key: str
    sku: str
    owner: str


async def claim_skus(
    conn: asyncpg.Connection[Any], *, run_id: int, config_id: str, shop: str, dry_run: bool = False
) -> list[Conflict]:
    """Claim every SKU of the run; products with a SKU another config owns become `conflict` rows.

    A dry run only looks: it takes no lock and claims nothing, so it never holds up a real run."""
    async with conn.transaction():
        if not dry_run:
            await conn.execute(LOCK_SHOP, shop)
        rows = await conn.fetch(SELECT_CONFLICTS, run_id, config_id, shop)
        conflicts = [Conflict(row["product_key"], row["sku"], row["owner"]) for row in rows]
        messages: dict[str, str] = {}
        for conflict in conflicts:
            messages.setdefault(
                conflict.product_key,
                f"SKU {conflict.sku} is owned by config {conflict.owner!r} in this shop; "
                "the product is not written by this config",
            )
        await mark_conflicts(conn, run_id, messages)
        if not dry_run:
            await conn.execute(CLAIM_SKUS, run_id, config_id, shop)
    return conflicts


async def mark_conflicts(conn: Executor, run_id: int, messages: dict[str, str]) -> None:
    """These run products (key -> why) are conflicts: not adopted, created, updated or deleted this run."""
    if messages:
        await conn.execute(MARK_CONFLICTS, run_id, list(messages), list(messages.values()))


async def release_stale_claims(conn: Executor, *, run_id: int, config_id: str) -> None:
    await conn.execute(RELEASE_STALE_CLAIMS, run_id, config_id)
