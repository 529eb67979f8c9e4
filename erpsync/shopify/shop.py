"""Reads the engine needs from a shop: its primary location, and every variant's SKU for adoption."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from erpsync.shopify import documents
from erpsync.shopify.bulk import ProgressCallback
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.errors import ShopifyError
from erpsync.shopify.export import iter_export, run_export


async def primary_location_id(client: ShopifyClient) -> str:
    """`location` without an id is the shop's primary location.
    https://shopify.dev/docs/api/admin-graphql/2025-10/queries/location"""
    data = await client.execute(documents.SHOP)
    location = data.get("location")
    if location and location.get("id"):
        return str(location["id"])
    page = await client.execute(documents.LOCATIONS, {"first": 1})
    nodes = page["locations"]["nodes"]
    if not nodes:
        raise ShopifyError(f"{client.target.shop} has no location to hold inventory", operation="locations")
    return str(nodes[0]["id"])


@dataclass(frozen=True, slots=True)
class ShopVariant:
    sku: str
    product_id: str
    variant_id: str
    handle: str | None
    stocked: bool


async def iter_shop_variants(
    client: ShopifyClient, location_id: str, *, on_progress: ProgressCallback | None = None
) -> AsyncIterator[ShopVariant]:
    """Every variant with a SKU in the shop, from one bulk export (not a request per SKU), with whether
    it is stocked at `location_id`."""
    query = documents.product_export_query(location_id)
    operation = await run_export(client, query, on_progress=on_progress)
    async for product in iter_export(client, operation):
        handle = product.data.get("handle")
        for variant in product.children.get("ProductVariant", []):
            sku = variant.data.get("sku")
            if sku:
                item = variant.data.get("inventoryItem") or {}
                stocked = item.get("inventoryLevel") is not None
                yield ShopVariant(str(sku), product.id, variant.id, handle, stocked)


SKUS_PER_QUERY = 50


def sku_query(skus: list[str]) -> str:
    """`sku:"A" OR sku:"B"`, quoted so SKUs with spaces or colons stay whole.
    https://shopify.dev/docs/api/usage/search-syntax"""
    quoted = ('"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"' for sku in skus)
    return " OR ".join(f"sku:{value}" for value in quoted)


async def lookup_skus(client: ShopifyClient, skus: list[str], location_id: str) -> AsyncIterator[ShopVariant]:
    """Variants with these SKUs, 50 SKUs a query: cheaper than an export when only a few are new."""
    for start in range(0, len(skus), SKUS_PER_QUERY):
        chunk = skus[start : start + SKUS_PER_QUERY]
        wanted = set(chunk)
        after: str | None = None
        while True:
            data = await client.execute(
                documents.VARIANTS_BY_SKU,
                {"query": sku_query(chunk), "first": 100, "after": after, "location": location_id},
            )
            page = data["productVariants"]
            for node in page["nodes"]:
                if node.get("sku") in wanted and node.get("product"):
                    stocked = ((node.get("inventoryItem") or {}).get("inventoryLevel")) is not None
                    yield ShopVariant(
                        node["sku"], node["product"]["id"], node["id"], node["product"].get("handle"), stocked
                    )
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
