"""Heal: a product whose tracked ids went stale (deleted in the shop, a variant removed by hand) is read
back from the shop in the same run, its tracking corrected, and written again as the feed says.

Without this such a product failed on every later run (`Product variant does not exist`). What the shop
holds that erpsync did not write — a variant added by hand — is named in the log before the write that
removes it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync.db.logs import INSERT_LOG
from erpsync.logs import get_logger
from erpsync.shopify import documents
from erpsync.shopify.client import ShopifyClient

log = get_logger("erpsync.heal")

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


async def heal_stale(
    conn: asyncpg.Connection[Any], client: ShopifyClient, *, run_id: int, config_id: str
) -> int:
    """Read back every product whose write failed on a stale id; returns how many were healed."""
    rows = await conn.fetch(SELECT_STALE, run_id)
    for row in rows:
        key, product_id, skus = row["product_key"], row["shopify_product_id"], list(row["skus"])
        data = await client.execute(documents.PRODUCT_VARIANTS, {"id": product_id})
        product = data.get("product")
        notes: list[tuple[str | None, str]] = []
        if product is None:
            await conn.execute(FORGET_PRODUCT, config_id, key)
            await conn.execute(AS_CREATE, run_id, key)
            notes.append(
                (
                    skus[0] if skus else None,
                    f"product {key} ({product_id}) was deleted in the shop: created again",
                )
            )
        else:
            notes += await _correct_variants(conn, config_id, key, skus, product)
        async with conn.transaction():
            await conn.executemany(
                INSERT_LOG,
                [
                    (config_id, run_id, "warning", sku, message, {"product_key": key})
                    for sku, message in notes
                ],
            )
        log.warning("stale ids corrected from the shop", product_key=key, notes=len(notes))
    return len(rows)


async def _correct_variants(
    conn: asyncpg.Connection[Any], config_id: str, key: str, skus: list[str], product: dict[str, Any]
) -> list[tuple[str | None, str]]:
    """Tracked variant ids replaced by the shop's (by SKU); the ones gone forgotten, so they are created."""
    in_shop = {str(node.get("sku") or ""): str(node["id"]) for node in product["variants"]["nodes"]}
    tracked = {
        r["sku"]: r["shopify_variant_id"] for r in await conn.fetch(SELECT_TRACKED_VARIANTS, config_id, key)
    }
    gone = sorted(sku for sku in tracked if sku not in in_shop)
    kept = sorted(sku for sku in tracked if sku in in_shop)
    await conn.execute(SET_VARIANT_IDS, config_id, key, kept, [in_shop[sku] for sku in kept])
    if gone:
        await conn.execute(FORGET_VARIANTS, config_id, key, gone)
    notes: list[tuple[str | None, str]] = [
        (sku, f"variant {sku} of product {key} was removed in the shop: created again")
        for sku in gone
        if sku in skus
    ]
    feed = set(skus)
    notes += [
        (
            sku or None,
            f"variant {sku or variant_id} of product {key} was added in the shop, not by erpsync; "
            "writing the feed's variants removes it",
        )
        for sku, variant_id in in_shop.items()
        if sku not in feed and sku not in tracked
    ]
    return notes
