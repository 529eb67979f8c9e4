"""Adopt: SKUs new to a config that the shop already has become the config's, instead of duplicates.

Looked up per SKU while few are new (`sku_lookup_limit`), else from one bulk export of the shop.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync.db import adopt as adopt_store
from erpsync.db.logs import add_logs
from erpsync.logs import get_logger
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.shop import iter_shop_variants, lookup_skus
from erpsync.spool import COPY_BATCH

log = get_logger("erpsync.adopt")


async def adopt_known_skus(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    config_id: str,
    run_id: int,
    location_id: str,
    sku_lookup_limit: int,
) -> int:
    """SKUs new to this config may already be in the shop: adopt them rather than duplicate them.

    Only SKUs this config claimed are looked for: a SKU another config owns is a conflict, never adopted."""
    untracked = await adopt_store.count_untracked_skus(conn, run_id, config_id)
    if untracked == 0:
        return 0
    log.info("looking up untracked SKUs in the shop", untracked=untracked)
    await adopt_store.reset_shop_variants(conn)
    batch: list[adopt_store.ShopVariantRow] = []
    if untracked <= sku_lookup_limit:
        skus = await adopt_store.untracked_skus(conn, run_id, config_id)
        found = lookup_skus(client, skus, location_id)
    else:
        found = iter_shop_variants(client, location_id)
    async for variant in found:
        batch.append((variant.sku, variant.product_id, variant.variant_id, variant.handle, variant.stocked))
        if len(batch) >= COPY_BATCH:
            await adopt_store.copy_shop_variants(conn, batch)
            batch.clear()
    if batch:
        await adopt_store.copy_shop_variants(conn, batch)
    shared = await adopt_store.hold_shared_skus(conn, run_id, config_id)
    lines = [
        (config_id, run_id, "error", row["sku"], row["message"], {"product_key": row["product_key"]})
        for row in shared
    ]
    await add_logs(conn, lines)
    count = await adopt_store.adopt_found(conn, run_id, config_id)
    if count:
        log.info("adopted products already in the shop", adopted=count)
    unstocked = await adopt_store.unstocked_adopted(conn, config_id, run_id)
    if unstocked:
        await add_logs(
            conn,
            [
                (
                    config_id,
                    run_id,
                    "warning",
                    sku,
                    f"adopted SKU {sku} is not stocked at location {location_id}; its stock is not synced "
                    "until it is stocked there in Shopify",
                    None,
                )
                for sku in unstocked
            ],
        )
    return count
