"""Products read back from the shop with the fields erpsync writes, to tell what was edited there since.

By bulk exports of `id:` searches (250 ids each), or one export of the whole shop past `export_above`
products, as the read before updates does (`erpsync.shopify.shop.iter_products_by_id`); bulk work costs
no query points. Stock is not read: sales move it. Media, metafields and weights are not compared.
https://shopify.dev/docs/api/usage/bulk-operations/queries
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.export import iter_export, run_export
from erpsync.shopify.shop import IDS_PER_EXPORT

# Two connections (products, variants), two levels: within the documented bulk query limits.
PRODUCT_FIELDS_TEMPLATE = """
{ products(query: QUERY) { edges { node {
  id handle title status vendor productType tags descriptionHtml
  variants { edges { node { id sku price compareAtPrice barcode taxable selectedOptions { name value } } } }
} } } }
"""
WHOLE_SHOP = "status:active,draft,archived,unlisted"


@dataclass(frozen=True, slots=True)
class ShopProduct:
    """A product as the shop holds it now: its fields, and its variants' in the shop's order."""

    product_id: str
    fields: dict[str, Any]
    variants: list[dict[str, Any]]


def product_fields_query(search: str) -> str:
    return PRODUCT_FIELDS_TEMPLATE.replace("QUERY", orjson.dumps(search).decode())


async def iter_product_fields(
    client: ShopifyClient, product_ids: list[str], *, export_above: int
) -> AsyncIterator[ShopProduct]:
    """Each of these products still in the shop, with its fields and variants (a product gone is absent)."""
    if not product_ids:
        return
    if len(product_ids) > export_above:
        searches = [WHOLE_SHOP]
    else:
        searches = [
            " OR ".join(f"id:{gid.rsplit('/', 1)[-1]}" for gid in product_ids[start : start + IDS_PER_EXPORT])
            for start in range(0, len(product_ids), IDS_PER_EXPORT)
        ]
    wanted = set(product_ids)
    for search in searches:
        operation = await run_export(client, product_fields_query(search))
        async for node in iter_export(client, operation):
            if node.data.get("__missing") or node.id not in wanted:
                continue
            variants = [child.data for child in node.children.get("ProductVariant", [])]
            yield ShopProduct(node.id, dict(node.data), variants)
