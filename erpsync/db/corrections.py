"""The SQL behind healing: tracking corrected from what the shop holds of the products a run updates.

A product gone from the shop is forgotten and its run row turned into a create; a variant gone is
forgotten (so it is created again), a variant found under another id takes that id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

SELECT_UPDATES = """
SELECT product_key, shopify_product_id, skus, input FROM run_products
WHERE run_id = $1 AND action = 'update' AND outcome IS NULL AND shopify_product_id IS NOT NULL ORDER BY ordinal
"""
SELECT_STALE = """
SELECT product_key, shopify_product_id, skus FROM run_products
WHERE run_id = $1 AND outcome = 'retry' AND retry = 'stale' ORDER BY ordinal
"""
SELECT_TRACKED_VARIANTS = (
    "SELECT sku, shopify_variant_id FROM products WHERE config_id = $1 AND product_key = $2"
)
FORGET_PRODUCT = """
WITH gone AS (DELETE FROM product_states WHERE config_id = $1 AND product_key = $2)
DELETE FROM products WHERE config_id = $1 AND product_key = $2
"""
AS_CREATE = """
UPDATE run_products SET action = 'create', shopify_product_id = NULL, retry = NULL
WHERE run_id = $1 AND product_key = $2
"""
SET_VARIANT_IDS = """
UPDATE products p SET shopify_variant_id = t.variant_id, updated_at = now()
FROM unnest($3::text[], $4::text[]) AS t(sku, variant_id)
WHERE p.config_id = $1 AND p.product_key = $2 AND p.sku = t.sku
"""
FORGET_VARIANTS = "DELETE FROM products WHERE config_id = $1 AND product_key = $2 AND sku = ANY($3::text[])"
# The shop's variants are not the feed's (one added or removed by hand): the product is written whole,
# productSet making its variants the feed's again, whatever its fields say.
WRITE_WHOLE = """
UPDATE run_products SET write_kind = 'set'
WHERE run_id = $1 AND product_key = ANY($2::text[]) AND write_kind IS DISTINCT FROM 'set'
"""
SET_STOCKED = """
UPDATE products p SET stocked = t.stocked
FROM unnest($2::text[], $3::boolean[]) AS t(sku, stocked)
WHERE p.config_id = $1 AND p.sku = t.sku AND p.stocked IS DISTINCT FROM t.stocked
"""


async def pending_updates(conn: asyncpg.Connection[Any], run_id: int) -> list[asyncpg.Record]:
    """The run's updates not yet answered: product key, shop product id, SKUs and input."""
    return list(await conn.fetch(SELECT_UPDATES, run_id))


async def stale_writes(conn: asyncpg.Connection[Any], run_id: int) -> list[asyncpg.Record]:
    """The run's writes that failed on an id the shop no longer has, to read back before sending again."""
    return list(await conn.fetch(SELECT_STALE, run_id))


async def tracked_variants(conn: asyncpg.Connection[Any], config_id: str, product_key: str) -> dict[str, str]:
    """SKU -> the variant id erpsync tracks for it, for one product."""
    rows = await conn.fetch(SELECT_TRACKED_VARIANTS, config_id, product_key)
    return {row["sku"]: row["shopify_variant_id"] for row in rows}


async def recreate(conn: asyncpg.Connection[Any], *, config_id: str, run_id: int, product_key: str) -> None:
    """A product gone from the shop: forgotten, and written by this run as a create."""
    await conn.execute(FORGET_PRODUCT, config_id, product_key)
    await conn.execute(AS_CREATE, run_id, product_key)


async def correct_variants(
    conn: asyncpg.Connection[Any],
    config_id: str,
    product_key: str,
    *,
    kept: Mapping[str, str],
    gone: Sequence[str],
) -> None:
    """Variants the shop still has take its ids (`kept`: SKU -> id); the `gone` ones are forgotten."""
    await conn.execute(SET_VARIANT_IDS, config_id, product_key, list(kept), list(kept.values()))
    if gone:
        await conn.execute(FORGET_VARIANTS, config_id, product_key, list(gone))


async def set_stocked(conn: asyncpg.Connection[Any], config_id: str, stocked: Mapping[str, bool]) -> None:
    """Whether each SKU is stocked at the config's location, as the shop says."""
    await conn.execute(SET_STOCKED, config_id, list(stocked), list(stocked.values()))


async def write_whole(conn: asyncpg.Connection[Any], run_id: int, product_keys: Sequence[str]) -> None:
    """These updates go out as productSet, whatever their changes alone would take."""
    await conn.execute(WRITE_WHOLE, run_id, list(product_keys))
