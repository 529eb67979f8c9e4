"""Adopt: SKUs new to a config that the shop already has become the config's, instead of duplicates.

Looked up per SKU while few are new (`sku_lookup_limit`), else from one bulk export of the shop.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync.db import products as store
from erpsync.db.logs import add_logs
from erpsync.logs import get_logger
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.shop import iter_shop_variants, lookup_skus
from erpsync.spool import COPY_BATCH

log = get_logger("erpsync.adopt")

UNSTOCKED_ADOPTED = """
SELECT sku FROM products WHERE config_id = $1 AND last_run_id = $2 AND adopted AND NOT stocked ORDER BY sku
"""


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
    untracked = int(await conn.fetchval(store.COUNT_UNTRACKED_SKUS, run_id, config_id))
    if untracked == 0:
        return 0
    log.info("looking up untracked SKUs in the shop", untracked=untracked)
    await conn.execute(store.CREATE_SHOP_VARIANTS)
    await conn.execute("TRUNCATE shop_variants")
    batch: list[tuple[str, str, str, str | None, bool]] = []
    if untracked <= sku_lookup_limit:
        skus = [row[0] for row in await conn.fetch(store.SELECT_UNTRACKED_SKUS, run_id, config_id)]
        found = lookup_skus(client, skus, location_id)
    else:
        found = iter_shop_variants(client, location_id)
    async for variant in found:
        batch.append((variant.sku, variant.product_id, variant.variant_id, variant.handle, variant.stocked))
        if len(batch) >= COPY_BATCH:
            await conn.copy_records_to_table("shop_variants", records=batch)
            batch.clear()
    if batch:
        await conn.copy_records_to_table("shop_variants", records=batch)
    adopted = await conn.execute(store.ADOPT_PRODUCTS, run_id, config_id)
    await conn.execute(store.ADOPT_VARIANTS, run_id, config_id)
    count = int(adopted.split()[-1])
    if count:
        log.info("adopted products already in the shop", adopted=count)
    unstocked = await conn.fetch(UNSTOCKED_ADOPTED, config_id, run_id)
    if unstocked:
        await add_logs(
            conn,
            [
                (
                    config_id,
                    run_id,
                    "warning",
                    row["sku"],
                    f"adopted SKU {row['sku']} is not stocked at location {location_id}; its stock is not synced "
                    "until it is stocked there in Shopify",
                    None,
                )
                for row in unstocked
            ],
        )
    return count
