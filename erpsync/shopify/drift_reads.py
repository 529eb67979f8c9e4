"""What the shop holds of products now, read for the drift check and the reconcile, in productSet shape.

- `read_window`: one small request — how many products were updated since a moment (`productsCount`) and
  which products were deleted since then (`events`, `subject_type:PRODUCT AND action:destroy`; the
  deprecated `deletionEvents` says the same). https://shopify.dev/docs/api/admin-graphql/latest/queries/productsCount ·
  https://shopify.dev/docs/api/admin-graphql/2025-10/queries/events
- `list_updated`: their ids and `updatedAt`, 250 a request (`products(query: "updated_at:>='…'")`), or
  `export_updated` of the same two fields by one bulk export when many: the products erpsync itself wrote
  in the window are known by their `updatedAt` and never read in full;
- `read_products`: the ones that changed since erpsync last saw them, by paginated `id:` searches sized to
  stay under the 1,000-point request limit when few, else bulk exports.
- `export_products`: one bulk export of a search (the whole shop for a reconcile): 4 connections, 2 levels,
  within Shopify's bulk query limits. https://shopify.dev/docs/api/usage/bulk-operations/queries

Each product comes back as a productSet input (`ShopProduct.data`), so that it compares with the input
erpsync wrote field by field (`erpsync.drift_fields`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.documents import Document
from erpsync.shopify.export import ExportNode, iter_export, run_export

MAX_QUERY_COST = 1000  # Shopify refuses a request asking for more. https://shopify.dev/docs/api/usage/limits
ALL_STATUSES = "status:active,draft,archived,unlisted"  # the products filter defaults to active ones

WINDOW = Document(
    "driftWindow",
    """
query erpsyncDriftWindow($products: String!, $events: String!, $after: String) {
  productsCount(query: $products) { count precision }
  events(first: 250, after: $after, query: $events, sortKey: CREATED_AT) {
    nodes { id action createdAt ... on BasicEvent { subjectId subjectType } }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=253,
)


def search_time(moment: datetime) -> str:
    """A moment as the search syntax quotes it, to the second: `'2026-11-01T10:00:00Z'`. Searches take it
    with `>=`, as the shop's times are to the second too: `>` would leave out the rest of that second."""
    return "'" + moment.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


@dataclass(frozen=True, slots=True)
class Window:
    """What changed in the shop since a moment: products updated (counted) and products deleted (ids)."""

    updated: int
    updated_exact: bool
    deleted: list[str]


async def read_window(client: ShopifyClient, since: datetime) -> Window:
    """The count of products updated after `since`, and the ids of products deleted after it."""
    products = updated_search(since)
    events = f"subject_type:PRODUCT AND action:destroy AND created_at:>={search_time(since)}"
    deleted: list[str] = []
    after: str | None = None
    count: dict[str, Any] = {}
    while True:
        data = await client.execute(WINDOW, {"products": products, "events": events, "after": after})
        count = count or data.get("productsCount") or {}
        page = data.get("events") or {"nodes": [], "pageInfo": {}}
        deleted += [
            str(node["subjectId"])
            for node in page["nodes"]
            if node.get("action") == "destroy"
            and node.get("subjectType") == "PRODUCT"
            and node.get("subjectId")
        ]
        if not page["pageInfo"].get("hasNextPage"):
            break
        after = page["pageInfo"]["endCursor"]
    return Window(int(count.get("count") or 0), count.get("precision") != "AT_LEAST", deleted)


@dataclass(frozen=True, slots=True)
class Reading:
    """Which parts of a product a config's check needs (the rest costs nothing to leave out)."""

    weight: bool = False
    product_metafields: tuple[str, ...] = ()  # "namespace.key"
    variant_metafields: tuple[str, ...] = ()
    variants: int = 100  # variants per product asked for in a paginated read

    def variant_cost(self) -> int:
        cost = 2  # the node, selectedOptions
        cost += 3 if self.weight else 0  # inventoryItem, measurement, weight
        cost += 2 + len(self.variant_metafields) if self.variant_metafields else 0
        return cost

    def product_cost(self) -> int:
        cost = 3 + 2 + self.variants * self.variant_cost()  # node, seo, options; the variants connection
        return cost + (2 + len(self.product_metafields) if self.product_metafields else 0)


@dataclass
class ShopProduct:
    """A product as the shop holds it: its id, handle, when it was last updated, and a productSet input."""

    id: str
    handle: str | None
    updated_at: str | None
    data: dict[str, Any] = field(default_factory=dict)
    variant_ids: dict[str, str] = field(default_factory=dict)  # SKU -> variant id
    truncated: bool = False  # more variants than one page held: read again by export


def _variant_fields(reading: Reading, *, bulk: bool) -> str:
    text = "id sku price compareAtPrice barcode taxable inventoryPolicy selectedOptions { name value }"
    if reading.weight:
        text += " inventoryItem { measurement { weight { unit value } } }"
    if reading.variant_metafields and not bulk:
        keys = orjson.dumps(list(reading.variant_metafields)).decode()
        text += f" metafields(first: {len(reading.variant_metafields)}, keys: {keys}) {{ nodes {{ namespace key type value }} }}"
    elif reading.variant_metafields:
        text += " metafields { edges { node { id namespace key type value } } }"
    return text


PRODUCT_FIELDS = "id handle updatedAt title status descriptionHtml vendor productType tags seo { title description } options { name values }"


def products_page_document(reading: Reading) -> tuple[Document, int]:
    """The paginated read and its page size: as many products as fit under the request cost limit."""
    per_page = max(1, min(250, (MAX_QUERY_COST - 2) // reading.product_cost()))
    metafields = ""
    if reading.product_metafields:
        keys = orjson.dumps(list(reading.product_metafields)).decode()
        metafields = f"metafields(first: {len(reading.product_metafields)}, keys: {keys}) {{ nodes {{ namespace key type value }} }}"
    text = f"""
query erpsyncDriftProducts($query: String!, $first: Int!, $after: String) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{ {PRODUCT_FIELDS} {metafields}
      variants(first: {reading.variants}) {{ nodes {{ {_variant_fields(reading, bulk=False)} }} pageInfo {{ hasNextPage }} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
    return Document("driftProducts", text, estimated_cost=2 + per_page * reading.product_cost()), per_page


def export_query(search: str, reading: Reading) -> str:
    """A bulk export of the products a search finds, with what the check compares (and every variant's
    SKU and product's handle, which the reconcile also needs)."""
    metafields = (
        " metafields { edges { node { id namespace key type value } } }" if reading.product_metafields else ""
    )
    return (
        f"{{ products(query: {orjson.dumps(search).decode()}) {{ edges {{ node {{ {PRODUCT_FIELDS}{metafields}"
        f" variants {{ edges {{ node {{ {_variant_fields(reading, bulk=True)} }} }} }} }} }} }} }}"
    )


def _metafields(nodes: list[dict[str, Any]], wanted: Collection[str]) -> list[dict[str, Any]]:
    return [
        {"namespace": m.get("namespace"), "key": m.get("key"), "type": m.get("type"), "value": m.get("value")}
        for m in nodes
        if f"{m.get('namespace')}.{m.get('key')}" in wanted
    ]


def _variant(node: dict[str, Any], metafields: list[dict[str, Any]], reading: Reading) -> dict[str, Any]:
    variant: dict[str, Any] = {
        "sku": node.get("sku"),
        "price": node.get("price"),
        "compareAtPrice": node.get("compareAtPrice"),
        "barcode": node.get("barcode"),
        "taxable": node.get("taxable"),
        "inventoryPolicy": node.get("inventoryPolicy"),
        "optionValues": [
            {"optionName": option.get("name"), "name": option.get("value")}
            for option in node.get("selectedOptions") or []
        ],
    }
    weight = (((node.get("inventoryItem") or {}).get("measurement")) or {}).get("weight")
    if reading.weight:
        variant["inventoryItem"] = {"measurement": {"weight": weight}}
    if reading.variant_metafields:
        variant["metafields"] = _metafields(metafields, reading.variant_metafields)
    return variant


def _product(node: dict[str, Any], metafields: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": node.get("title"),
        "handle": node.get("handle"),
        "status": node.get("status"),
        "descriptionHtml": node.get("descriptionHtml"),
        "vendor": node.get("vendor"),
        "productType": node.get("productType"),
        "tags": list(node.get("tags") or []),
        "seo": dict(node.get("seo") or {}),
        "productOptions": [
            {"name": option.get("name"), "values": [{"name": value} for value in option.get("values") or []]}
            for option in node.get("options") or []
        ],
        "metafields": metafields,
    }


def from_page(node: dict[str, Any], reading: Reading) -> ShopProduct:
    """A product of the paginated read."""
    data = _product(
        node, _metafields(((node.get("metafields") or {}).get("nodes")) or [], reading.product_metafields)
    )
    page = node.get("variants") or {}
    variants = [
        (v, _variant(v, ((v.get("metafields") or {}).get("nodes")) or [], reading))
        for v in page.get("nodes") or []
    ]
    data["variants"] = [variant for _, variant in variants]
    product = ShopProduct(str(node["id"]), node.get("handle"), node.get("updatedAt"), data)
    product.variant_ids = {str(v.get("sku")): str(v["id"]) for v, _ in variants if v.get("sku")}
    product.truncated = bool((page.get("pageInfo") or {}).get("hasNextPage"))
    return product


def from_export(node: ExportNode, reading: Reading) -> ShopProduct:
    """A product of a bulk export (its variants and metafields come as child lines)."""
    own = [child.data for child in node.children.get("Metafield", [])]
    data = _product(node.data, _metafields(own, reading.product_metafields))
    variants = node.children.get("ProductVariant", [])
    data["variants"] = [
        _variant(v.data, [m.data for m in v.children.get("Metafield", [])], reading) for v in variants
    ]
    product = ShopProduct(node.id, node.data.get("handle"), node.data.get("updatedAt"), data)
    product.variant_ids = {str(v.data.get("sku")): v.id for v in variants if v.data.get("sku")}
    return product


async def export_products(client: ShopifyClient, search: str, reading: Reading) -> AsyncIterator[ShopProduct]:
    """Every product a search finds, from one bulk export (bulk work costs no query points)."""
    operation = await run_export(client, export_query(search, reading))
    async for node in iter_export(client, operation):
        if not node.data.get("__missing"):
            yield from_export(node, reading)


LIST_UPDATED = Document(
    "driftUpdated",
    """
query erpsyncDriftUpdated($query: String!, $after: String) {
  products(first: 250, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}
""",
    estimated_cost=252,
)
IDS_PER_QUERY = 50  # keeps a search string short


def updated_search(since: datetime) -> str:
    return f"updated_at:>={search_time(since)} {ALL_STATUSES}"


def id_search(product_ids: list[str]) -> str:
    """`id:1 OR id:2`. https://shopify.dev/docs/api/usage/search-syntax"""
    return " OR ".join(f"id:{gid.rsplit('/', 1)[-1]}" for gid in product_ids)


async def list_updated(client: ShopifyClient, since: datetime) -> AsyncIterator[tuple[str, str | None]]:
    """(id, updatedAt) of each product updated after `since`, 250 a request: what tells the check which
    of them changed since erpsync last wrote or compared them."""
    after: str | None = None
    while True:
        data = await client.execute(LIST_UPDATED, {"query": updated_search(since), "after": after})
        page = data["products"]
        for node in page["nodes"]:
            yield str(node["id"]), node.get("updatedAt")
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def updated_ids_query(since: datetime) -> str:
    """A bulk export of the id and `updatedAt` alone of each product updated after `since`: one line a
    product, whatever its variants, media and metafields hold."""
    search = orjson.dumps(updated_search(since)).decode()
    return f"{{ products(query: {search}) {{ edges {{ node {{ id updatedAt }} }} }} }}"


async def export_updated(client: ShopifyClient, since: datetime) -> AsyncIterator[tuple[str, str | None]]:
    """`list_updated` for many products: their (id, updatedAt) from one bulk export (no query points)."""
    operation = await run_export(client, updated_ids_query(since))
    async for node in iter_export(client, operation):
        if not node.data.get("__missing"):
            yield node.id, node.data.get("updatedAt")


async def read_pages(client: ShopifyClient, search: str, reading: Reading) -> AsyncIterator[ShopProduct]:
    """The products a search finds, by the paginated read; one with more variants than a page holds is
    read again by an export of its id."""
    document, per_page = products_page_document(reading)
    after: str | None = None
    truncated: list[str] = []
    while True:
        data = await client.execute(document, {"query": search, "first": per_page, "after": after})
        page = data["products"]
        for node in page["nodes"]:
            product = from_page(node, reading)
            if product.truncated:
                truncated.append(product.id)
            else:
                yield product
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    for start in range(0, len(truncated), 250):
        async for product in export_products(client, id_search(truncated[start : start + 250]), reading):
            yield product


async def read_products(
    client: ShopifyClient, product_ids: list[str], reading: Reading, *, export_above: int
) -> AsyncIterator[ShopProduct]:
    """These products as the shop holds them: paginated `id:` searches while at most `export_above`, else
    bulk exports of 250 ids each."""
    step = IDS_PER_QUERY if len(product_ids) <= export_above else 250
    for start in range(0, len(product_ids), step):
        search = id_search(product_ids[start : start + step])
        found = (
            read_pages(client, search, reading)
            if step == IDS_PER_QUERY
            else export_products(client, search, reading)
        )
        async for product in found:
            yield product
