"""``productVariantsBulkUpdate``: fields of a product's existing variants, by variant id, nothing else.

https://shopify.dev/docs/api/admin-graphql/latest/mutations/productVariantsBulkUpdate — the variants must
be the product's (``MUST_BE_FOR_THIS_PRODUCT``), a missing product is ``PRODUCT_DOES_NOT_EXIST``, an
unknown variant ``PRODUCT_VARIANT_DOES_NOT_EXIST``; quantities are not taken on an update
(``NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE``: the inventory mutations set them). With
``allowPartialUpdates: false`` (the default) one refused variant leaves every variant as it was; with true
the valid ones are written. Codes are those of the schema's ``ProductVariantsBulkUpdateUserErrorCode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

from shopify_simulator.connections import View
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.events import record_event
from shopify_simulator.product_rules import UserErrorBody, user_error
from shopify_simulator.products import _apply_variant_input
from shopify_simulator.state import Product, ShopState, Variant, utc_now
from shopify_simulator.views import product_view, variant_view

# Inputs this mutation takes that the simulator does not model: refused loudly, never ignored.
NOT_SIMULATED = ("optionValues", "mediaId", "mediaSrc", "metafields", "quantityAdjustments")


def _errors_for(
    state: ShopState, product: Product, index: int, given: Mapping[str, Any], failing_skus: Mapping[str, str]
) -> tuple[Variant | None, list[UserErrorBody]]:
    path: list[str | int] = ["variants", index]
    variant_id = given.get("id")
    if not variant_id:
        return None, [
            user_error([*path, "id"], "Product variant id is missing", "PRODUCT_VARIANT_ID_MISSING")
        ]
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None:
        if state.find_variant(str(variant_id)) is not None:
            message = "Product variant must be for this product"
            return None, [user_error([*path, "id"], message, "MUST_BE_FOR_THIS_PRODUCT")]
        message = "Product variant does not exist"
        return None, [user_error([*path, "id"], message, "PRODUCT_VARIANT_DOES_NOT_EXIST")]
    errors: list[UserErrorBody] = []
    if given.get("inventoryQuantities") is not None:
        message = "Inventory quantities cannot be updated with this mutation."  # the code is the schema's; text unconfirmed
        errors.append(
            user_error([*path, "inventoryQuantities"], message, "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE")
        )
    for name in ("price", "compareAtPrice"):
        if given.get(name) is None:
            continue
        try:
            negative = Decimal(str(given[name])) < 0
        except InvalidOperation:
            errors.append(user_error([*path, name], f"{name} is invalid", "INVALID_INPUT"))
            continue
        if negative:
            errors.append(
                user_error(
                    [*path, name], "Price must be greater than or equal to 0", "GREATER_THAN_OR_EQUAL_TO"
                )
            )
    sku = (given.get("inventoryItem") or {}).get("sku") or variant.sku
    if sku is not None and sku in failing_skus:
        errors.append(user_error([*path, "sku"], failing_skus[sku], "INVALID_INPUT"))
    return variant, errors


def product_variants_bulk_update(
    state: ShopState,
    product_id: str,
    variants_input: list[Mapping[str, Any]],
    *,
    allow_partial: bool,
    failing_skus: Mapping[str, str],
) -> tuple[Product | None, list[Variant] | None, list[UserErrorBody]]:
    """The product, the variants written (None when none was) and the userErrors."""
    product = state.products.get(product_id)
    if product is None:
        return None, None, [user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
    chosen: list[tuple[Variant, Mapping[str, Any]]] = []
    errors: list[UserErrorBody] = []
    for index, given in enumerate(variants_input):
        variant, problems = _errors_for(state, product, index, given, failing_skus)
        errors += problems
        if variant is not None and not problems:
            chosen.append((variant, given))
    if errors and not allow_partial:
        return product, None, errors
    now = utc_now()
    for variant, given in chosen:
        _apply_variant_input(state, variant, given, now)
        variant.updated_at = now
    if chosen:
        product.updated_at = now
        record_event(state, "update", product.id, title=product.title)
    return product, [variant for variant, _ in chosen] or None, errors


def mutation_product_variants_bulk_update(info: ResolveInfo, **arguments: Any) -> View:
    """``productVariantsBulkUpdate(productId, variants, allowPartialUpdates)``, direct or as a bulk line."""
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    if arguments.get("media"):
        raise GraphQLError(
            "productVariantsBulkUpdate(media:) is not simulated by the erpsync simulator",
            extensions={"code": "NOT_SIMULATED"},
        )
    for given in arguments["variants"]:
        for name in NOT_SIMULATED:
            if given.get(name) is not None:
                raise GraphQLError(
                    f"ProductVariantsBulkInput.{name} is not simulated by the erpsync simulator",
                    extensions={"code": "NOT_SIMULATED"},
                )
    product, variants, errors = product_variants_bulk_update(
        context.state,
        arguments["productId"],
        arguments["variants"],
        allow_partial=bool(arguments.get("allowPartialUpdates")),
        failing_skus=context.faults.sku_errors,
    )
    context.stats.variants_written += len(variants or [])
    state = context.state
    return {
        "product": product_view(state, product) if product is not None else None,
        "productVariants": [variant_view(state, v, product) for v in variants] if variants else None,
        "userErrors": errors,
    }
