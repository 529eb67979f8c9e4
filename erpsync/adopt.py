"""Adopt: SKUs new to a config that the shop already has become the config's, instead of duplicates.

The new SKUs, and only they, are searched for in the shop, many a query (`shopify/sku_search.py`), so
what adoption costs grows with the SKUs that are new, not with the shop; the shop is never exported for
it. A SKU the shop holds ambiguously — on two products or two variants, or on a product erpsync writes
for another product — is never adopted, and its product is not created either (that would be one copy
more): the product is a conflict, named in the run's log with the shop's product ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db import adopt as adopt_store
from erpsync.db.logs import add_logs
from erpsync.db.owners import mark_conflicts
from erpsync.journal import LINE_LIMIT
from erpsync.logs import get_logger
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.sku_search import SkuSearch
from erpsync.spool import COPY_BATCH

log = get_logger("erpsync.adopt")

SKU_CHUNK = 10_000  # untracked SKUs read from PostgreSQL at a time
ADVICE = "keep each SKU on one product in Shopify, or take it out of the feed"


@dataclass(frozen=True, slots=True)
class Adoption:
    """What adoption did: products adopted, products set aside as ambiguous, and what the search cost."""

    adopted: int = 0
    ambiguous: int = 0
    queries: int = 0
    cost: float = 0.0

    def counts(self) -> dict[str, Any]:
        """The run's counts: `adopted` always; the search's queries and cost when there was one."""
        counts: dict[str, Any] = {"adopted": self.adopted}
        if self.queries:
            counts.update(adopt_queries=self.queries, adopt_cost=round(self.cost, 1))
        if self.ambiguous:
            counts["ambiguous"] = self.ambiguous
        return counts


async def adopt_known_skus(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    config_id: str,
    run_id: int,
    location_id: str,
) -> Adoption:
    """SKUs new to this config may already be in the shop: adopt them rather than duplicate them.

    Only SKUs this config claimed are looked for: a SKU another config owns is a conflict, never adopted."""
    requests, cost = client.stats.requests, client.stats.cost
    search = SkuSearch(client, location_id)
    untracked = 0
    await adopt_store.reset_shop_variants(conn)
    chunks = adopt_store.iter_untracked_skus(conn, run_id, config_id, chunk=SKU_CHUNK)
    async with aclosing(chunks):
        async for skus in chunks:
            untracked += len(skus)
            batch: list[adopt_store.ShopVariantRow] = []
            async for variant in search.find(skus):
                batch.append(
                    (variant.sku, variant.product_id, variant.variant_id, variant.handle, variant.stocked)
                )
                if len(batch) >= COPY_BATCH:
                    await adopt_store.copy_shop_variants(conn, batch)
                    batch.clear()
            if batch:
                await adopt_store.copy_shop_variants(conn, batch)
            if search.empty:  # nothing in the shop to find: the other chunks need not be read
                break
    if not untracked:
        return Adoption()
    queries, spent = client.stats.requests - requests, client.stats.cost - cost
    log.info("searched the shop for untracked SKUs", untracked=untracked, queries=queries, cost=spent)
    ambiguous = await set_aside_ambiguous(conn, config_id=config_id, run_id=run_id)
    count = await adopt_store.adopt_found(conn, run_id, config_id)
    if count:
        log.info("adopted products already in the shop", adopted=count)
        await warn_unstocked(conn, config_id=config_id, run_id=run_id, location_id=location_id)
    return Adoption(adopted=count, ambiguous=ambiguous, queries=queries, cost=spent)


def ambiguity(row: asyncpg.Record, products: Sequence[str]) -> str:
    """Why one SKU of an ambiguous run product is neither adopted nor created, naming the shop's products."""
    sku, key, held = row["sku"], row["product_key"], list(row["product_ids"])
    if len(held) > 1 or row["variants"] > 1:
        where = (
            f"on {len(held)} products in the shop ({', '.join(held)})"
            if len(held) > 1
            else (f"on {row['variants']} variants of shop product {held[0]}")
        )
        return f"SKU {sku} of product {key} is {where}; none is adopted and no product is created: {ADVICE}"
    if row["tracked"] is not None and held[0] != row["tracked"]:
        return (
            f"SKU {sku} of product {key} is on shop product {held[0]}, not on {row['tracked']}, the product "
            f"this config writes for {key}; not written: {ADVICE}"
        )
    if row["elsewhere"]:
        return (
            f"SKU {sku} of product {key} is on shop product {held[0]}, which erpsync writes for another "
            f"product; not adopted, and no product is created: {ADVICE}"
        )
    return (
        f"the SKUs of product {key} are on {len(products)} products in the shop ({', '.join(products)}); "
        f"none is adopted and no product is created: {ADVICE}"
    )


async def set_aside_ambiguous(conn: asyncpg.Connection[Any], *, config_id: str, run_id: int) -> int:
    """Mark the run products the shop holds ambiguously as conflicts, one log line a SKU; how many."""
    rows = await adopt_store.ambiguous_skus(conn, run_id, config_id)
    if not rows:
        return 0
    shop_products: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        shop_products[row["product_key"]].update(row["product_ids"])
    lines = [(row, ambiguity(row, sorted(shop_products[row["product_key"]]))) for row in rows]
    messages: dict[str, str] = {}
    for row, message in lines:
        messages.setdefault(row["product_key"], message)
    await mark_conflicts(conn, run_id, messages)
    log.warning("SKUs the shop holds ambiguously are not adopted", products=len(messages), skus=len(rows))
    await add_logs(
        conn,
        [
            (
                config_id,
                run_id,
                "error",
                row["sku"],
                message,
                {"product_key": row["product_key"], "shop_products": list(row["product_ids"])},
            )
            for row, message in lines[:LINE_LIMIT]
        ],
    )
    return len(messages)


async def warn_unstocked(
    conn: asyncpg.Connection[Any], *, config_id: str, run_id: int, location_id: str
) -> None:
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
