"""The SQL of adoption: SKUs new to a config that the shop already has become the config's products.

The shop's variants found for them are COPYed into a session table, `shop_variants`, and joined with the
run's products in set-based statements: first the products the shop holds ambiguously are set aside as
conflicts, then the others are adopted.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import asyncpg

# Untracked SKUs of this run: the ones to look for in the shop before creating anything. A product whose
# hash is the one last written holds only SKUs written with it, so only new and changed products are
# probed SKU by SKU: a re-sync of a large catalogue looks at its changes, not at every SKU it has.
# Scalar subqueries, one index probe a row, whatever the statistics say (see `db/regroup.py`).
SELECT_UNTRACKED_SKUS = """
WITH probed AS MATERIALIZED (
  SELECT rp.skus FROM run_products rp
  WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
    AND (rp.content_hash IS NULL
         OR (SELECT ps.content_hash FROM product_states ps
             WHERE ps.config_id = $2 AND ps.product_key = rp.product_key) IS DISTINCT FROM rp.content_hash)
)
SELECT s.sku FROM probed CROSS JOIN LATERAL unnest(probed.skus) AS s(sku)
WHERE (SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = s.sku) IS NULL
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
# Run products whose SKUs the shop holds ambiguously, per SKU: the shop products holding it, how many
# variants, the shop product this config tracks for the run product (if it does) and whether one of those
# shop products is tracked for another product (of this config or another). A run product is ambiguous
# when a SKU is on two variants or more, its SKUs are on two shop products or more, a SKU is on a shop
# product other than the one tracked for it, or on one tracked for another product: adopting any of them
# would write over a product erpsync does not own, or leave the SKU twice in the shop.
SELECT_AMBIGUOUS = """
WITH found AS (
  SELECT rp.product_key, s.sku, sv.product_id, ps.shopify_product_id AS tracked,
         EXISTS (SELECT 1 FROM product_states o
                 WHERE o.shopify_product_id = sv.product_id
                   AND NOT (o.config_id = $2 AND o.product_key = rp.product_key)) AS elsewhere
  FROM run_products rp CROSS JOIN LATERAL unnest(rp.skus) AS s(sku)
  JOIN shop_variants sv ON sv.sku = s.sku
  LEFT JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
  WHERE rp.run_id = $1 AND rp.action IS DISTINCT FROM 'conflict'
), per_sku AS (
  SELECT product_key, sku, array_agg(DISTINCT product_id ORDER BY product_id) AS product_ids,
         count(*) AS variants, min(tracked) AS tracked, bool_or(elsewhere) AS elsewhere
  FROM found GROUP BY product_key, sku
), ambiguous AS (
  SELECT product_key FROM found GROUP BY product_key
  HAVING count(DISTINCT product_id) > 1 OR bool_or(tracked IS NOT NULL AND product_id <> tracked)
      OR bool_or(elsewhere)
  UNION
  SELECT product_key FROM per_sku WHERE variants > 1
)
SELECT p.product_key, p.sku, p.product_ids, p.variants, p.tracked, p.elsewhere
FROM per_sku p JOIN ambiguous USING (product_key)
ORDER BY p.product_key, p.sku
"""
UNSTOCKED_ADOPTED = """
SELECT sku FROM products WHERE config_id = $1 AND last_run_id = $2 AND adopted AND NOT stocked ORDER BY sku
"""

# A shop variant as copied: SKU, product id, variant id, product handle, stocked at the config's location.
ShopVariantRow = tuple[str, str, str, str | None, bool]


async def iter_untracked_skus(
    conn: asyncpg.Connection[Any], run_id: int, config_id: str, *, chunk: int
) -> AsyncGenerator[list[str], None]:
    """The run's untracked SKUs, `chunk` at a time, through a cursor: a first run over a catalogue of a
    million SKUs holds one chunk in memory, not the million; unsorted, so the first chunk comes at once.
    The caller writes to `shop_variants` on this connection between chunks (inside the cursor's
    transaction), and closes the iterator (`contextlib.aclosing`) so that the transaction ends before
    anything else runs on the connection, however the loop ends."""
    async with conn.transaction():
        cursor = await conn.cursor(SELECT_UNTRACKED_SKUS, run_id, config_id)
        while rows := await cursor.fetch(chunk):
            yield [str(row[0]) for row in rows]


async def reset_shop_variants(conn: asyncpg.Connection[Any]) -> None:
    """An empty `shop_variants` for this connection (it outlives a run on a pooled connection)."""
    await conn.execute(CREATE_SHOP_VARIANTS)
    await conn.execute(TRUNCATE_SHOP_VARIANTS)


async def copy_shop_variants(conn: asyncpg.Connection[Any], rows: Sequence[ShopVariantRow]) -> None:
    await conn.copy_records_to_table("shop_variants", records=rows)


async def ambiguous_skus(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> list[asyncpg.Record]:
    """The SKUs of run products the shop holds ambiguously (see `SELECT_AMBIGUOUS`), by product."""
    return list(await conn.fetch(SELECT_AMBIGUOUS, run_id, config_id))


async def adopt_found(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """Track the run's products the shop has (one shop product per run product); returns how many."""
    adopted = await conn.execute(ADOPT_PRODUCTS, run_id, config_id)
    await conn.execute(ADOPT_VARIANTS, run_id, config_id)
    return int(adopted.split()[-1])


async def unstocked_adopted(conn: asyncpg.Connection[Any], config_id: str, run_id: int) -> list[str]:
    """SKUs this run adopted that are not stocked at the config's location."""
    return [str(row["sku"]) for row in await conn.fetch(UNSTOCKED_ADOPTED, config_id, run_id)]
