"""The SQL of adoption: SKUs new to a config that the shop already has become the config's products.

The shop's variants found for them are COPYed into a session table, `shop_variants`, and joined with the
run's products in two set-based statements, so a whole-shop export holds nothing per variant in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

# Untracked SKUs of this run: the ones to look for in the shop before creating anything.
COUNT_UNTRACKED_SKUS = """
SELECT count(*) FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = s.sku)
"""
SELECT_UNTRACKED_SKUS = """
SELECT s.sku FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = s.sku)
ORDER BY s.sku
"""
CREATE_SHOP_VARIANTS = """
CREATE TEMP TABLE IF NOT EXISTS shop_variants (
    sku text, product_id text, variant_id text, handle text, stocked boolean
) ON COMMIT PRESERVE ROWS
"""
TRUNCATE_SHOP_VARIANTS = "TRUNCATE shop_variants"
ADOPT_PRODUCTS = """
INSERT INTO product_states (config_id, product_key, shopify_product_id, handle, content_hash, adopted, last_run_id)
SELECT DISTINCT ON (rp.product_key) $2, rp.product_key, sv.product_id, sv.handle, NULL, true, $1
FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
JOIN shop_variants sv ON sv.sku = s.sku
WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
  AND NOT EXISTS (SELECT 1 FROM product_states ps WHERE ps.config_id = $2 AND ps.product_key = rp.product_key)
ORDER BY rp.product_key, sv.product_id
ON CONFLICT (config_id, product_key) DO NOTHING
"""
ADOPT_VARIANTS = """
INSERT INTO products (config_id, sku, product_key, shopify_product_id, shopify_variant_id, adopted, stocked,
                      last_run_id)
SELECT $2, sv.sku, rp.product_key, sv.product_id, sv.variant_id, true, sv.stocked, $1
FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
JOIN shop_variants sv ON sv.sku = s.sku
JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
     AND ps.shopify_product_id = sv.product_id
WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
ON CONFLICT (config_id, sku) DO NOTHING
"""
# A SKU new to the config that two or more shop products hold: neither is adopted (which would be the
# feed's?) and none is created beside them: the product is a conflict, named, until one of them goes.
HOLD_SHARED_SKUS = """
WITH shared AS (
    SELECT sku, array_agg(DISTINCT product_id ORDER BY product_id) AS ids FROM shop_variants
    GROUP BY sku HAVING count(DISTINCT product_id) > 1
)
UPDATE run_products rp SET action = 'conflict',
    message = 'SKU ' || sh.sku || ' is on ' || cardinality(sh.ids) || ' products in the shop ('
              || array_to_string(sh.ids, ', ') || '): not adopted, not created; remove all but one'
FROM shared sh
WHERE rp.run_id = $1 AND sh.sku = ANY(rp.skus) AND rp.action IS DISTINCT FROM 'conflict'
  AND NOT EXISTS (SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = sh.sku)
RETURNING rp.product_key, sh.sku, rp.message
"""
UNSTOCKED_ADOPTED = """
SELECT sku FROM products WHERE config_id = $1 AND last_run_id = $2 AND adopted AND NOT stocked ORDER BY sku
"""

# A shop variant as copied: SKU, product id, variant id, product handle, stocked at the config's location.
ShopVariantRow = tuple[str, str, str, str | None, bool]


async def count_untracked_skus(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    return int(await conn.fetchval(COUNT_UNTRACKED_SKUS, run_id, config_id))


async def untracked_skus(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> list[str]:
    return [str(row[0]) for row in await conn.fetch(SELECT_UNTRACKED_SKUS, run_id, config_id)]


async def reset_shop_variants(conn: asyncpg.Connection[Any]) -> None:
    """An empty `shop_variants` for this connection (it outlives a run on a pooled connection)."""
    await conn.execute(CREATE_SHOP_VARIANTS)
    await conn.execute(TRUNCATE_SHOP_VARIANTS)


async def copy_shop_variants(conn: asyncpg.Connection[Any], rows: Sequence[ShopVariantRow]) -> None:
    await conn.copy_records_to_table("shop_variants", records=rows)


async def hold_shared_skus(
    conn: asyncpg.Connection[Any], run_id: int, config_id: str
) -> list[asyncpg.Record]:
    """Products with a new SKU that several shop products hold become conflicts: key, SKU, message."""
    return list(await conn.fetch(HOLD_SHARED_SKUS, run_id, config_id))


async def adopt_found(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """Track the run's products the shop has (one shop product per run product); returns how many."""
    adopted = await conn.execute(ADOPT_PRODUCTS, run_id, config_id)
    await conn.execute(ADOPT_VARIANTS, run_id, config_id)
    return int(adopted.split()[-1])


async def unstocked_adopted(conn: asyncpg.Connection[Any], config_id: str, run_id: int) -> list[str]:
    """SKUs this run adopted that are not stocked at the config's location."""
    return [str(row["sku"]) for row in await conn.fetch(UNSTOCKED_ADOPTED, config_id, run_id)]
