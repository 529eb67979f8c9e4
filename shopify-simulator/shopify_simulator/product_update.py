"""``productUpdate``: a product's own fields changed in place, the way a merchant edits one in the admin.

Fields given are written and fields left out stay as they are; ``tags`` replaces every tag; ``metafields``
are upserted one by one (by ``id``, else namespace and key), never the whole list, unlike productSet's.
The variants are not touched (``productVariantsBulkUpdate`` and ``productSet`` write those). The product's
``updatedAt`` moves and an ``update`` event is recorded.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productUpdate
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopify_simulator.connections import View
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.custom_ids import find_by_custom_id, index_custom_ids
from shopify_simulator.events import record_event
from shopify_simulator.product_rules import CUSTOM_ID_DEFAULT_NAMESPACE, check_metafields, user_error
from shopify_simulator.products import _apply_product_fields, _rename
from shopify_simulator.state import Metafield, Product, ShopState, utc_now
from shopify_simulator.views import product_view


def _target(
    state: ShopState, identifier: Mapping[str, Any] | None, given: Mapping[str, Any]
) -> Product | None:
    identifier = identifier or {}
    if identifier.get("handle") is not None:
        return state.product_by_handle(identifier["handle"])
    if identifier.get("customId") is not None:
        return find_by_custom_id(state, identifier["customId"])
    return state.products.get(identifier.get("id") or given.get("id") or "")


def _upsert_metafields(state: ShopState, product: Product, entries: list[Mapping[str, Any]]) -> None:
    now = utc_now()
    for entry in entries:
        namespace = entry.get("namespace") or CUSTOM_ID_DEFAULT_NAMESPACE
        found = next(
            (
                metafield
                for metafield in product.metafields
                if metafield.id == entry.get("id")
                or (metafield.namespace, metafield.key) == (namespace, entry.get("key"))
            ),
            None,
        )
        if found is None:
            found = Metafield(state.new_id("Metafield"), namespace, str(entry["key"]), "", "", now, now)
            product.metafields.append(found)
        found.type = entry.get("type") or found.type or "single_line_text_field"
        found.value, found.updated_at = str(entry.get("value") or ""), now


def mutation_product_update(info: ResolveInfo, **arguments: Any) -> View:
    """``productUpdate(identifier, product)`` (``input`` is its deprecated spelling)."""
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    state = context.state
    given: Mapping[str, Any] = arguments.get("product") or arguments.get("input") or {}
    product = _target(state, arguments.get("identifier"), given)
    if product is None:
        return {"product": None, "userErrors": [user_error(["id"], "Product does not exist")]}
    errors = check_metafields(given.get("metafields"), ["product", "metafields"])
    handle = given.get("handle")
    holder = state.product_by_handle(handle) if handle else None
    if holder is not None and holder.id != product.id:
        errors.append(
            user_error(["handle"], f"Handle '{handle}' already in use. Please provide a new handle.")
        )
    if errors:
        return {"product": None, "userErrors": errors}
    _apply_product_fields(product, {key: value for key, value in given.items() if key != "handle"})
    _rename(state, product, handle)
    if given.get("metafields"):
        _upsert_metafields(state, product, given["metafields"])
        index_custom_ids(state, product)
    product.updated_at = utc_now()
    record_event(state, "update", product.id, title=product.title)
    return {"product": product_view(state, product), "userErrors": []}
