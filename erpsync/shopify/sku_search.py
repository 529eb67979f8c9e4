"""The shop's variants holding given SKUs, by SKU search: what adoption costs grows with the new SKUs alone.

One `productVariants(query: "sku:\\"A\\" OR sku:\\"B\\" …")` asks for many SKUs at once. Its requested
cost is 2 for the connection plus `first` times a node's (the variant, its product, its inventory item
and level: an object each, 4 points); Shopify wants it in the bucket up front, refunds what the page did
not return, and refuses any query requesting more than 1,000 points. So each query asks for as many SKUs,
and as large a page, as the smaller of that limit and the client's bucket allows — 249 at Shopify's
figures, for an actual cost of 2 plus 4 a variant found — and the node cost Shopify reports
(`requestedQueryCost`) resizes the next query. A full page is followed by its cursor: a SKU held by
several variants, or a search that matches more than the exact SKU. No bulk export is ever started, and a
shop with no variant at all (`productVariantsCount`) is not searched.
https://shopify.dev/docs/api/usage/limits · https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits ·
https://shopify.dev/docs/api/usage/search-syntax
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from erpsync.shopify import documents
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.shop import ShopVariant

MAX_QUERY_COST = 1000.0  # the single query max cost: refused above it (MAX_COST_EXCEEDED)
MAX_PAGE = 250  # `first` of a connection
CONNECTION_COST = 2.0
NODE_COST = 4.0  # ProductVariant, product, inventoryItem, inventoryLevel
# Shopify publishes no limit on the length of a search string; erpsync keeps each under this many
# characters (a few hundred SKUs of ordinary length), far from any request-size limit.
MAX_SEARCH_CHARS = 20_000


def sku_term(sku: str) -> str:
    """`sku:"…"`: quoted so that spaces, colons and commas stay in the value; `\\` and `"` escaped."""
    return 'sku:"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sku_query(skus: list[str]) -> str:
    """`sku:"A" OR sku:"B"`."""
    return " OR ".join(sku_term(sku) for sku in skus)


def page_size(bucket: float, node_cost: float) -> int:
    """The largest `first` whose requested cost fits both the single-query limit and the bucket."""
    budget = min(MAX_QUERY_COST, bucket)
    return max(1, min(MAX_PAGE, int((budget - CONNECTION_COST) // max(node_cost, 0.01))))


def batches(skus: list[str], size: int) -> Iterator[list[str]]:
    """Up to `size` SKUs a batch, each batch's search string under `MAX_SEARCH_CHARS`."""
    batch: list[str] = []
    length = 0
    for sku in skus:
        term = len(sku_term(sku)) + 4  # " OR "
        if batch and (len(batch) >= size or length + term > MAX_SEARCH_CHARS):
            yield batch
            batch, length = [], 0
        batch.append(sku)
        length += term
    if batch:
        yield batch


class SkuSearch:
    """Searches one shop for SKUs, batch after batch, sizing each query by what the last one cost."""

    def __init__(self, client: ShopifyClient, location_id: str) -> None:
        self.client = client
        self.location_id = location_id
        self.node_cost = NODE_COST
        self.empty: bool | None = None  # the shop holds no variant: asked once, before the first search

    async def find(self, skus: list[str]) -> AsyncIterator[ShopVariant]:
        """Every variant in the shop whose SKU is exactly one of `skus`."""
        if self.empty is None:
            # One point, not a query per 249 SKUs: a first run into a new shop searches for nothing.
            data = await self.client.execute(documents.VARIANTS_COUNT)
            self.empty = int((data.get("productVariantsCount") or {}).get("count") or 0) == 0
        if self.empty:
            return
        pending = [sku for sku in skus if sku]
        while pending:
            first = page_size(self.client.throttle.maximum, self.node_cost)
            chunk = next(batches(pending, first))
            pending = pending[len(chunk) :]
            async for variant in self._pages(chunk, first):
                yield variant

    async def _pages(self, chunk: list[str], first: int) -> AsyncIterator[ShopVariant]:
        wanted = set(chunk)
        query = sku_query(chunk)
        after: str | None = None
        while True:
            data = await self.client.execute(
                documents.VARIANTS_BY_SKU,
                {"query": query, "first": first, "after": after, "location": self.location_id},
            )
            requested = self.client.requested_cost(documents.VARIANTS_BY_SKU)
            if requested is not None and requested > CONNECTION_COST:
                self.node_cost = (requested - CONNECTION_COST) / first
            page = data["productVariants"]
            for node in page["nodes"]:
                if node.get("sku") in wanted and node.get("product"):
                    stocked = ((node.get("inventoryItem") or {}).get("inventoryLevel")) is not None
                    yield ShopVariant(
                        node["sku"], node["product"]["id"], node["id"], node["product"].get("handle"), stocked
                    )
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]
