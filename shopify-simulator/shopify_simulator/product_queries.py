"""``products`` and ``productVariants``: the search fields and sort keys of the two product listings.

Split from ``resolvers.py``, which routes the queries here.
https://shopify.dev/docs/api/usage/search-syntax
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shopify_simulator.connections import View, connection, legacy_id
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.search import lower_bound, parse_search, required_values
from shopify_simulator.sku_index import candidate_variants
from shopify_simulator.state import Product, Variant, gid
from shopify_simulator.views import product_view, search_filter, variant_view


def numeric_id(global_id: str) -> int:
    tail = legacy_id(global_id)
    return int(tail) if tail.isdigit() else 0


PRODUCT_SORT_KEYS: dict[str, Callable[[Product], Any]] = {
    "ID": lambda product: numeric_id(product.id),
    "TITLE": lambda product: (product.title.lower(), numeric_id(product.id)),
    "UPDATED_AT": lambda product: (product.updated_at, numeric_id(product.id)),
    "CREATED_AT": lambda product: (product.created_at, numeric_id(product.id)),
    "VENDOR": lambda product: (product.vendor.lower(), numeric_id(product.id)),
    "PRODUCT_TYPE": lambda product: (product.product_type.lower(), numeric_id(product.id)),
}
PRODUCT_SEARCH_FIELDS = {
    "sku",
    "handle",
    "updated_at",
    "created_at",
    "status",
    "title",
    "vendor",
    "product_type",
    "id",
    "tag",
    "barcode",
}
VARIANT_SEARCH_FIELDS = {
    "sku",
    "barcode",
    "product_id",
    "updated_at",
    "created_at",
    "id",
    "title",
    "product_status",
}


# Each search field of a product, computed only when a query names it: a filter over 100,000 products that
# asks for `updated_at` alone must not build every field's list for each of them.
PRODUCT_FIELD_VALUES: dict[str, Callable[[Product], list[Any]]] = {
    "sku": lambda product: [variant.sku for variant in product.variants if variant.sku],
    "barcode": lambda product: [variant.barcode for variant in product.variants if variant.barcode],
    "handle": lambda product: [product.handle],
    "updated_at": lambda product: [product.updated_at],
    "created_at": lambda product: [product.created_at],
    "status": lambda product: [product.status],
    "title": lambda product: [product.title],
    "vendor": lambda product: [product.vendor],
    "product_type": lambda product: [product.product_type],
    "id": lambda product: [numeric_id(product.id)],
    "tag": lambda product: list(product.tags),
}


def _product_fields(product: Product) -> Callable[[str], list[Any] | None]:
    def get(name: str) -> list[Any] | None:
        values = PRODUCT_FIELD_VALUES.get(name)
        return None if values is None else values(product)

    return get


def _product_status(context: ExecutionContext, variant: Variant) -> list[Any]:
    product = context.state.products.get(variant.product_id)
    return [product.status] if product else []


# Each search field of a variant, computed only when a query names it: a SKU search of 249 SKUs checks
# each variant it finds against 249 terms.
VARIANT_FIELD_VALUES: dict[str, Callable[[ExecutionContext, Variant], list[Any]]] = {
    "sku": lambda context, variant: [variant.sku] if variant.sku else [],
    "barcode": lambda context, variant: [variant.barcode] if variant.barcode else [],
    "product_id": lambda context, variant: [numeric_id(variant.product_id)],
    "updated_at": lambda context, variant: [variant.updated_at],
    "created_at": lambda context, variant: [variant.created_at],
    "id": lambda context, variant: [numeric_id(variant.id)],
    "title": lambda context, variant: [variant.title],
    "product_status": _product_status,
}


def _variant_fields(context: ExecutionContext, variant: Variant) -> Callable[[str], list[Any] | None]:
    def get(name: str) -> list[Any] | None:
        values = VARIANT_FIELD_VALUES.get(name)
        return None if values is None else values(context, variant)

    return get


def _count_search(info: ResolveInfo, arguments: dict[str, Any]) -> None:
    """``/_simulator/stats`` ``searches``: requests (not bulk exports) that searched this connection."""
    context: ExecutionContext = info.context
    if arguments.get("query") and not context.bulk_query:
        context.stats.searches[info.field_name] += 1


def updated_since(context: ExecutionContext, query: str | None) -> Iterable[Product]:
    """The shop's products, less those updated before the query's `updated_at` lower bound if it has one
    (one comparison each; the whole query is matched against the rest)."""
    products: Iterable[Product] = context.state.products.values()
    bound = lower_bound(parse_search(query), "updated_at")
    return products if bound is None else [product for product in products if product.updated_at >= bound]


def query_products(info: ResolveInfo, **arguments: Any) -> View:
    """``products(first, after, query, sortKey, reverse)``; a ``sku:`` search is answered from the SKU
    index and an ``id:`` search by looking the products up, each filtered by the whole query."""
    context: ExecutionContext = info.context
    _count_search(info, arguments)
    keep = search_filter(info, arguments.get("query"), PRODUCT_SEARCH_FIELDS, _product_fields)
    sort_key = PRODUCT_SORT_KEYS.get(arguments.get("sortKey") or "ID", PRODUCT_SORT_KEYS["ID"])
    pool: Iterable[Product] = updated_since(context, arguments.get("query"))
    parsed = parse_search(arguments.get("query"))
    indexed = candidate_variants(context.state, parsed)
    by_id = required_values(parsed, "id")
    if indexed is not None:
        holders = {variant.product_id for variant in indexed}
        pool = [context.state.products[product_id] for product_id in holders]
    elif by_id is not None:  # `id:1 OR id:2`: looked up, not scanned for
        found = (context.state.products.get(gid("Product", numeric_id(value))) for value in by_id)
        pool = {product.id: product for product in found if product is not None}.values()
    chosen = sorted((product for product in pool if keep(product)), key=sort_key)
    return connection(
        info, chosen, lambda product: product_view(context.state, product), lambda p: p.id, arguments
    )


def _matching_variants(info: ResolveInfo, arguments: dict[str, Any]) -> list[Variant]:
    """The variants ``query:`` matches, in id order; a ``sku:`` search is answered from the SKU index
    (``sku_index.py``), filtered by the whole query as a scan would be."""
    context: ExecutionContext = info.context
    keep = search_filter(
        info, arguments.get("query"), VARIANT_SEARCH_FIELDS, lambda v: _variant_fields(context, v)
    )
    indexed = candidate_variants(context.state, parse_search(arguments.get("query")))
    pool = context.state.all_variants() if indexed is None else indexed
    return sorted((v for v in pool if keep(v)), key=lambda v: numeric_id(v.id))


def query_product_variants(info: ResolveInfo, **arguments: Any) -> View:
    """``productVariants(first, after, query, sortKey, reverse)``."""
    context: ExecutionContext = info.context
    _count_search(info, arguments)
    chosen = _matching_variants(info, arguments)
    if arguments.get("sortKey") in ("SKU",):
        chosen.sort(key=lambda v: v.sku or "")
    return connection(info, chosen, lambda v: variant_view(context.state, v), lambda v: v.id, arguments)


def query_products_count(info: ResolveInfo, **arguments: Any) -> View:
    """``productsCount(query, limit)``: the products the same ``query:`` lists, counted up to ``limit``
    (default 10,000; ``precision`` AT_LEAST past it, ``limit: null`` for no limit).
    https://shopify.dev/docs/api/admin-graphql/latest/queries/productsCount"""
    context: ExecutionContext = info.context
    keep = search_filter(info, arguments.get("query"), PRODUCT_SEARCH_FIELDS, _product_fields)
    count = sum(1 for product in updated_since(context, arguments.get("query")) if keep(product))
    limit = arguments.get("limit")
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def query_product_variants_count(info: ResolveInfo, **arguments: Any) -> View:
    """``productVariantsCount(limit, query)``: a ``Count``, capped at ``limit`` (null: no cap) with
    precision ``AT_LEAST`` when there are more.
    https://shopify.dev/docs/api/admin-graphql/latest/queries/productVariantsCount"""
    if arguments.get("query"):
        found = len(_matching_variants(info, arguments))
    else:  # every variant: counted, not listed
        context: ExecutionContext = info.context
        found = sum(len(product.variants) for product in context.state.products.values())
    limit = arguments.get("limit")
    if limit is not None and found > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": found, "precision": "EXACT"}
