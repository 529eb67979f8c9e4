"""Reads the engine needs from a shop: its primary location, the products a run updates, and every variant
(one bulk export, for a full reconcile)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from erpsync.ownership import OWNER_KEY, OWNER_NAMESPACE, OWNER_TYPE
from erpsync.shopify import documents
from erpsync.shopify.bulk import ProgressCallback
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.errors import ShopifyError
from erpsync.shopify.export import iter_export, run_export


@dataclass(frozen=True, slots=True)
class ShopFacts:
    """What a run needs to know of the shop before it decides anything: both change what it writes."""

    primary_location_id: str
    currency: str


async def shop_facts(client: ShopifyClient) -> ShopFacts:
    """The primary location (`location` without an id) and the shop's currency, in one request.
    https://shopify.dev/docs/api/admin-graphql/2025-10/queries/location"""
    data = await client.execute(documents.SHOP)
    currency = str((data.get("shop") or {}).get("currencyCode") or "")
    location = data.get("location")
    if location and location.get("id"):
        return ShopFacts(str(location["id"]), currency)
    page = await client.execute(documents.LOCATIONS, {"first": 1})
    nodes = page["locations"]["nodes"]
    if not nodes:
        raise ShopifyError(f"{client.target.shop} has no location to hold inventory", operation="locations")
    return ShopFacts(str(nodes[0]["id"]), currency)


async def primary_location_id(client: ShopifyClient) -> str:
    return (await shop_facts(client)).primary_location_id


async def ensure_owner_definition(client: ShopifyClient) -> None:
    """Create the `id` metafield definition erpsync's custom ID needs, once per shop (TAKEN: it exists)."""
    identifier = {"ownerType": "PRODUCT", "namespace": OWNER_NAMESPACE, "key": OWNER_KEY}
    data = await client.execute(documents.METAFIELD_DEFINITION, {"identifier": identifier})
    found = data.get("metafieldDefinition")
    if found is not None:
        kind = (found.get("type") or {}).get("name")
        if kind != OWNER_TYPE:
            raise ShopifyError(
                f"the product metafield {OWNER_NAMESPACE}.{OWNER_KEY} is defined with type {kind!r}, "
                f"not {OWNER_TYPE!r}: erpsync cannot mark its products",
                operation="metafieldDefinition",
            )
        return
    definition = {
        **identifier,
        "name": "erpsync id",
        "description": "Set by erpsync on the products it creates; identifies them across syncs.",
        "type": OWNER_TYPE,
    }
    created = await client.execute(documents.METAFIELD_DEFINITION_CREATE, {"definition": definition})
    errors = created["metafieldDefinitionCreate"]["userErrors"]
    if errors and not all(error.get("code") == "TAKEN" for error in errors):
        message = "; ".join(str(error.get("message")) for error in errors)
        raise ShopifyError(
            f"cannot define erpsync's product id metafield: {message}", operation="metafieldDefinitionCreate"
        )


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
    """Every variant with a SKU in the shop, from one bulk export, with whether it is stocked at
    `location_id`: what a full reconcile reads. Adoption never does: it searches for the new SKUs
    alone (`sku_search.py`)."""
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


IDS_PER_EXPORT = 250  # keeps the search string short; bulk work itself costs no points


def _id_search(product_ids: list[str]) -> str:
    return " OR ".join(f"id:{gid.rsplit('/', 1)[-1]}" for gid in product_ids)


PRODUCTS_BY_ID_TEMPLATE = """
{ products(query: QUERY) { edges { node { id handle variants { edges { node {
  id sku inventoryItem { id inventoryLevel(locationId: LOCATION) { id } } } } } } } } }
"""


@dataclass(frozen=True, slots=True)
class ShopVariantState:
    """A variant as the shop has it now, and whether it is stocked where erpsync writes stock."""

    variant_id: str
    sku: str
    inventory_item_id: str | None
    stocked: bool


async def iter_products_by_id(
    client: ShopifyClient, product_ids: list[str], location_id: str, *, export_above: int
) -> AsyncIterator[tuple[str, list[ShopVariantState]]]:
    """Each of these products still in the shop with its variants, by bulk exports of `id:` searches
    (one export of the whole shop past `export_above` products: `[sync] sku_lookup_limit`, and half of
    the products the config tracks, `heal.py`).
    https://shopify.dev/docs/api/usage/search-syntax"""
    if len(product_ids) > export_above:
        # Many updates (a changed location rewrites every product): one export of the whole shop costs
        # less time than one per 250 products.
        queries = [documents.product_export_query(location_id)]
    else:
        queries = [
            PRODUCTS_BY_ID_TEMPLATE.replace(
                "QUERY", orjson.dumps(_id_search(product_ids[start : start + IDS_PER_EXPORT])).decode()
            ).replace("LOCATION", orjson.dumps(location_id).decode())
            for start in range(0, len(product_ids), IDS_PER_EXPORT)
        ]
    wanted = set(product_ids)
    for query in queries:
        operation = await run_export(client, query)
        async for product in iter_export(client, operation):
            if product.data.get("__missing") or product.id not in wanted:
                continue
            variants = []
            for variant in product.children.get("ProductVariant", []):
                item = variant.data.get("inventoryItem") or {}
                variants.append(
                    ShopVariantState(
                        variant.id,
                        str(variant.data.get("sku") or ""),
                        item.get("id"),
                        item.get("inventoryLevel") is not None,
                    )
                )
            yield product.id, variants
