"""Heal: what the shop holds of the products a run updates is read before they are written, and read again
for any whose write still failed on a stale id (deleted in the shop, a variant removed by hand).

Tracking is corrected from the shop — a variant gone is created again, a product gone is created again —
so no product fails on every later run (`Product variant does not exist`). A variant added in the shop,
which the update's variant list removes (productSet replaces lists), is named in the log before the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db import corrections
from erpsync.db.logs import add_logs
from erpsync.db.products import count_tracked
from erpsync.logs import get_logger
from erpsync.shopify import documents
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.shop import iter_products_by_id

log = get_logger("erpsync.heal")


@dataclass(frozen=True, slots=True)
class Activation:
    """An existing variant to stock at the config's location, with the feed's quantity."""

    sku: str
    inventory_item_id: str
    quantity: int


async def read_before_updates(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    config_id: str,
    location_id: str | None,
    export_above: int,
) -> list[Activation]:
    """Compare every product the run updates with the shop, before anything is written.

    Returns the variants to stock at `location_id` first: their quantities are left out of the productSet
    line (Shopify refuses them there) and set by `inventoryActivate` instead."""
    rows = {row["shopify_product_id"]: row for row in await corrections.pending_updates(conn, run_id)}
    if not rows or location_id is None:
        return []
    log.info("reading the products to update from the shop", products=len(rows))
    found: set[str] = set()
    notes: list[tuple[str, str | None, str]] = []
    activations: list[Activation] = []
    stocked: dict[str, bool] = {}
    drifted: list[str] = []
    # One export of the whole shop only when most of what the config owns is rewritten (a changed
    # location): for a share of it, as in a run with 1% changed, `id:` searches of 250 products an
    # export cost minutes where the whole shop costs hours.
    whole_above = max(export_above, await count_tracked(conn, config_id) // 2)
    async for product_id, variants in iter_products_by_id(
        client, list(rows), location_id, export_above=whole_above
    ):
        row = rows.get(product_id)
        if row is None:
            continue
        found.add(product_id)
        key, skus = row["product_key"], list(row["skus"])
        if {v.sku for v in variants} != set(skus):
            drifted.append(key)
        product = {"variants": {"nodes": [{"id": v.variant_id, "sku": v.sku} for v in variants]}}
        notes += [
            (key, sku, message)
            for sku, message in await _correct_variants(conn, config_id, key, skus, product)
        ]
        quantities = _feed_quantities(row["input"])
        for variant in variants:
            stocked[variant.sku] = variant.stocked
            if not variant.stocked and variant.inventory_item_id and variant.sku in quantities:
                activations.append(
                    Activation(variant.sku, variant.inventory_item_id, quantities[variant.sku])
                )
    if drifted:
        await corrections.write_whole(conn, run_id, drifted)
    if stocked:
        await corrections.set_stocked(conn, config_id, stocked)
    for product_id, row in rows.items():
        if product_id not in found:
            key, skus = row["product_key"], list(row["skus"])
            await corrections.recreate(conn, config_id=config_id, run_id=run_id, product_key=key)
            message = f"product {key} ({product_id}) was deleted in the shop: created again"
            notes.append((key, skus[0] if skus else None, message))
    if notes:
        await add_logs(
            conn,
            [
                (config_id, run_id, "warning", sku, message, {"product_key": key})
                for key, sku, message in notes
            ],
        )
    return activations


def _feed_quantities(product_input: dict[str, Any] | None) -> dict[str, int]:
    """SKU -> the quantity the feed gives it (the productSet input's first inventory quantity)."""
    quantities: dict[str, int] = {}
    for variant in (product_input or {}).get("variants", []):
        given = variant.get("inventoryQuantities") or []
        if given and variant.get("sku"):
            quantities[str(variant["sku"])] = int(given[0]["quantity"])
    return quantities


async def heal_stale(
    conn: asyncpg.Connection[Any], client: ShopifyClient, *, run_id: int, config_id: str
) -> int:
    """Read back every product whose write failed on a stale id; returns how many were healed."""
    rows = await corrections.stale_writes(conn, run_id)
    for row in rows:
        key, product_id, skus = row["product_key"], row["shopify_product_id"], list(row["skus"])
        data = await client.execute(documents.PRODUCT_VARIANTS, {"id": product_id})
        product = data.get("product")
        notes: list[tuple[str | None, str]] = []
        if product is None:
            await corrections.recreate(conn, config_id=config_id, run_id=run_id, product_key=key)
            notes.append(
                (
                    skus[0] if skus else None,
                    f"product {key} ({product_id}) was deleted in the shop: created again",
                )
            )
        else:
            notes += await _correct_variants(conn, config_id, key, skus, product)
        async with conn.transaction():
            await add_logs(
                conn,
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
    tracked = await corrections.tracked_variants(conn, config_id, key)
    gone = sorted(sku for sku in tracked if sku not in in_shop)
    kept = sorted(sku for sku in tracked if sku in in_shop)
    await corrections.correct_variants(
        conn, config_id, key, kept={sku: in_shop[sku] for sku in kept}, gone=gone
    )
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
