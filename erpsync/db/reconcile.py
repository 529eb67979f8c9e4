"""The SQL of a reconcile: every product of one whole-shop export, COPYed into a session table
(`shop_products`), then joined with what the config owns in a few set-based statements — so that a shop of
any size holds nothing per product in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

CREATE_SHOP_PRODUCTS = """
CREATE TEMP TABLE IF NOT EXISTS shop_products (product_id text, handle text, skus text[]) ON COMMIT PRESERVE ROWS
"""
TRUNCATE_SHOP_PRODUCTS = "TRUNCATE shop_products"
# Owned, active, and not in the shop.
SELECT_MISSING = """
SELECT ps.product_key, ps.shopify_product_id, ps.written,
       (SELECT coalesce(array_agg(p.sku ORDER BY p.sku), '{}') FROM products p
        WHERE p.config_id = ps.config_id AND p.product_key = ps.product_key) AS skus
FROM product_states ps
WHERE ps.config_id = $1 AND ps.state = 'active'
  AND NOT EXISTS (SELECT 1 FROM shop_products sp WHERE sp.product_id = ps.shopify_product_id)
ORDER BY ps.product_key
"""
# A SKU of this config (tracked, or claimed in this shop) on more than one product of the shop.
SELECT_DUPLICATE_SKUS = """
WITH held AS (
    SELECT DISTINCT s.sku, sp.product_id FROM shop_products sp CROSS JOIN LATERAL unnest(sp.skus) AS s(sku)
), shared AS (
    SELECT sku, array_agg(product_id ORDER BY product_id) AS product_ids FROM held GROUP BY sku HAVING count(*) > 1
)
SELECT sh.sku, sh.product_ids, p.product_key, p.shopify_product_id
FROM shared sh
LEFT JOIN products p ON p.config_id = $1 AND p.sku = sh.sku
WHERE p.sku IS NOT NULL OR EXISTS (SELECT 1 FROM sku_owners o WHERE o.config_id = $1 AND o.sku = sh.sku)
ORDER BY sh.sku
"""
# An owned product that does not hold the handle erpsync wrote for it, held by a product no config owns.
SELECT_HANDLES_TAKEN = """
SELECT ps.product_key, ps.shopify_product_id, ps.written ->> 'handle' AS wanted, sp.product_id AS holder
FROM product_states ps
JOIN shop_products sp ON sp.handle = ps.written ->> 'handle' AND sp.product_id <> ps.shopify_product_id
WHERE ps.config_id = $1 AND ps.state = 'active'
  AND NOT EXISTS (SELECT 1 FROM product_states other WHERE other.shopify_product_id = sp.product_id)
ORDER BY ps.product_key
"""

ShopProductRow = tuple[str, str | None, list[str]]


async def reset_shop_products(conn: asyncpg.Connection[Any]) -> None:
    await conn.execute(CREATE_SHOP_PRODUCTS)
    await conn.execute(TRUNCATE_SHOP_PRODUCTS)


async def copy_shop_products(conn: asyncpg.Connection[Any], rows: Sequence[ShopProductRow]) -> None:
    """A batch of the export's products: id, handle, SKUs."""
    await conn.copy_records_to_table("shop_products", records=rows)


async def missing_products(conn: asyncpg.Connection[Any], config_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_MISSING, config_id))


async def duplicate_skus(conn: asyncpg.Connection[Any], config_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_DUPLICATE_SKUS, config_id))


async def handles_taken(conn: asyncpg.Connection[Any], config_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_HANDLES_TAKEN, config_id))
