"""``productSet``, ``productDelete`` and ``inventorySetQuantities`` with Shopify's product semantics.

Pure functions over ``ShopState``: they take the coerced GraphQL arguments and return the affected
object plus ``userErrors`` with the codes the schema defines. The checks (``product_rules.py``) all run
before anything changes, so a refused mutation leaves the shop as it was.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopify_simulator.custom_ids import index_custom_ids, taken_custom_id
from shopify_simulator.events import record_event
from shopify_simulator.handles import free_handle, handle_from_title, unique_handle
from shopify_simulator.media import apply_files, check_files
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.product_rules import (
    CUSTOM_ID_DEFAULT_NAMESPACE,
    MutationOutcome,
    UserErrorBody,
    check_metafields,
    check_options_and_variants,
    resolve_target,
    user_error,
)
from shopify_simulator.sku_index import forget_product, note_sku
from shopify_simulator.state import (
    InventoryItem,
    Metafield,
    OptionValue,
    Product,
    ProductOption,
    ShopState,
    Variant,
    utc_now,
)
from shopify_simulator.stats import Stats
from shopify_simulator.variant_cap import check_variant_cap, new_variant_count

DEFAULT_OPTION_NAME = "Title"  # a single-variant product's option and value
DEFAULT_OPTION_VALUE = "Default Title"

# --- productSet ----------------------------------------------------------------------------------------


def _replace_metafields(
    state: ShopState, current: list[Metafield], entries: list[Mapping[str, Any]]
) -> list[Metafield]:
    """The given list becomes the whole list; a kept (namespace, key) keeps its ID."""
    now = utc_now()
    by_identity = {(metafield.namespace, metafield.key): metafield for metafield in current}
    result: list[Metafield] = []
    for entry in entries:
        identity = (entry.get("namespace") or CUSTOM_ID_DEFAULT_NAMESPACE, entry["key"])
        old = by_identity.get(identity)
        if old is not None and old.value == entry["value"] and old.type == entry["type"]:
            result.append(old)
            continue
        result.append(
            Metafield(
                id=old.id if old else state.new_id("Metafield"),
                namespace=identity[0],
                key=identity[1],
                type=entry["type"],
                value=entry["value"],
                created_at=old.created_at if old else now,
                updated_at=now,
            )
        )
    return result


def _build_variants(
    state: ShopState,
    product: Product,
    options_input: list[Mapping[str, Any]],
    variants_input: list[Mapping[str, Any]],
    options: SimulatorOptions,
) -> None:
    """Replace options and variants as given: given entries created/updated, others deleted."""
    now = utc_now()
    old_options = {option.name: option for option in product.options}
    new_options: list[ProductOption] = []
    for position, option_input in enumerate(options_input, start=1):
        old = old_options.get(option_input["name"])
        old_values = {value.name: value for value in old.values} if old else {}
        values = [
            old_values.get(value["name"])
            or OptionValue(id=state.new_id("ProductOptionValue"), name=value["name"])
            for value in option_input.get("values") or []
        ]
        new_options.append(
            ProductOption(
                id=old.id if old else state.new_id("ProductOption"),
                name=option_input["name"],
                position=position,
                values=values,
            )
        )
    product.options = new_options
    option_order = [option.name for option in new_options]
    old_by_id = {variant.id: variant for variant in product.variants}
    old_by_options = {tuple(variant.selected_options): variant for variant in product.variants}
    new_variants: list[Variant] = []
    for position, variant_input in enumerate(variants_input, start=1):
        chosen = {value["optionName"]: value["name"] for value in variant_input.get("optionValues") or []}
        selected = [(name, chosen[name]) for name in option_order]
        old_variant = old_by_id.get(variant_input.get("id") or "")
        if old_variant is None and options.variant_matching == "options" and variant_input.get("id") is None:
            old_variant = old_by_options.get(tuple(selected))
        variant = old_variant or _new_variant(state, product.id, now)
        _apply_variant_input(state, variant, variant_input, now)
        variant.selected_options = selected
        variant.position = variant_input.get("position") or position
        variant.updated_at = now
        new_variants.append(variant)
    product.variants = sorted(new_variants, key=lambda variant: variant.position)


def _new_variant(state: ShopState, product_id: str, now: Any) -> Variant:
    item = InventoryItem(
        id=state.new_id("InventoryItem"),
        sku=None,
        tracked=True,
        requires_shipping=True,
        cost=None,
        created_at=now,
        updated_at=now,
    )
    return Variant(
        id=state.new_id("ProductVariant"),
        product_id=product_id,
        sku=None,
        barcode=None,
        price="0.00",
        compare_at_price=None,
        taxable=True,
        inventory_policy="DENY",
        position=1,
        selected_options=[(DEFAULT_OPTION_NAME, DEFAULT_OPTION_VALUE)],
        inventory_item=item,
        metafields=[],
        created_at=now,
        updated_at=now,
    )


def _apply_sku(state: ShopState, variant: Variant, given: Mapping[str, Any]) -> None:
    """``sku`` or ``inventoryItem.sku`` (the later wins), on the variant and its item, in the SKU index."""
    old_sku = variant.sku
    for source in (given, given.get("inventoryItem") or {}):
        if "sku" in source:
            variant.sku = variant.inventory_item.sku = source["sku"]
    if variant.sku != old_sku:
        note_sku(state, variant, old_sku)


def _apply_variant_input(state: ShopState, variant: Variant, given: Mapping[str, Any], now: Any) -> None:
    _apply_sku(state, variant, given)
    if "barcode" in given:
        variant.barcode = given["barcode"]
    if given.get("price") is not None:
        variant.price = given["price"]
    if "compareAtPrice" in given:
        variant.compare_at_price = given["compareAtPrice"]
    if given.get("taxable") is not None:
        variant.taxable = given["taxable"]
    if given.get("inventoryPolicy") is not None:
        variant.inventory_policy = given["inventoryPolicy"]
    _apply_item_input(variant, given.get("inventoryItem") or {})
    item = variant.inventory_item
    for quantity in given.get("inventoryQuantities") or []:
        item.levels.setdefault(quantity["locationId"], {})[quantity["name"]] = quantity["quantity"]
    item.updated_at = now
    if given.get("metafields") is not None:
        variant.metafields = _replace_metafields(state, variant.metafields, given["metafields"])


def _apply_item_input(variant: Variant, item_input: Mapping[str, Any]) -> None:
    item = variant.inventory_item
    if item_input.get("tracked") is not None:
        item.tracked = item_input["tracked"]
    if item_input.get("requiresShipping") is not None:
        item.requires_shipping = item_input["requiresShipping"]
    if "cost" in item_input:
        item.cost = item_input["cost"]
    if "measurement" in item_input:
        item.weight = (item_input["measurement"] or {}).get("weight")


def product_set(
    state: ShopState,
    product_input: Mapping[str, Any],
    identifier: Mapping[str, Any] | None,
    options: SimulatorOptions,
    failing_skus: Mapping[str, str] | None = None,
    *,
    variant_day_offset: int = 0,
    stats: Stats | None = None,
) -> MutationOutcome:
    """Create or update one product as ``productSet`` does, synchronously; past the daily variant cap
    it raises ``DailyVariantCapReached`` (``variant_cap.py``) before anything changes."""
    plan = resolve_target(state, product_input, identifier, options)
    if plan.errors:
        return MutationOutcome(user_errors=plan.errors)
    existing = plan.existing
    errors = check_options_and_variants(state, product_input, existing, failing_skus or {})
    taken = taken_custom_id(state, existing.id if existing else None, product_input.get("metafields"))
    if taken is not None:
        message = f"Value of {taken} is already taken."
        errors.append(user_error(["input", "metafields"], message, "DUPLICATED_METAFIELD_VALUE"))
    errors.extend(check_metafields(product_input.get("metafields"), ["input", "metafields"]))
    for index, variant in enumerate(product_input.get("variants") or []):
        errors.extend(check_metafields(variant.get("metafields"), ["input", "variants", index, "metafields"]))
    errors.extend(check_files(product_input, existing, options))
    title = product_input.get("title")
    if existing is None and not title:
        errors.append(user_error(["input", "title"], "Title can't be blank", "INVALID_PRODUCT"))
    handle = free_handle(state, product_input.get("handle"), existing, options, errors)
    if errors:
        return MutationOutcome(user_errors=errors)
    check_variant_cap(
        state, options, new_variant_count(product_input, existing), day_offset=variant_day_offset
    )
    now = utc_now()
    if existing is None:
        product_id = state.new_id("Product")
        product = Product(
            id=product_id,
            handle=handle or unique_handle(state, handle_from_title(title or "")),
            title=title or "",
            status=options.default_create_status,
            vendor="",
            product_type="",
            tags=[],
            description_html="",
            template_suffix=None,
            options=[],
            variants=[],
            metafields=[],
            created_at=now,
            updated_at=now,
        )
        if product_input.get("variants") is None:
            # A product without variants input gets the single default variant under "Title".
            default = _new_variant(state, product_id, now)
            product.options = [
                ProductOption(
                    id=state.new_id("ProductOption"),
                    name=DEFAULT_OPTION_NAME,
                    position=1,
                    values=[OptionValue(id=state.new_id("ProductOptionValue"), name=DEFAULT_OPTION_VALUE)],
                )
            ]
            product.variants = [default]
    else:
        product = existing
        _rename(state, product, handle)
    _apply_product_fields(product, product_input)
    apply_files(state, product, product_input, options, stats)
    if product_input.get("productOptions") is not None and product_input.get("variants") is not None:
        _build_variants(state, product, product_input["productOptions"], product_input["variants"], options)
        if stats is not None:
            stats.variants_written += len(product_input["variants"])
    if product_input.get("metafields") is not None:
        product.metafields = _replace_metafields(state, product.metafields, product_input["metafields"])
    product.updated_at = now
    index_custom_ids(state, product)
    record_event(
        state, "update" if product.id in state.products else "create", product.id, title=product.title
    )
    if product.id not in state.products:
        state.products[product.id] = product
        state.index_handle(product)
    return MutationOutcome(product=product)


def _rename(state: ShopState, product: Product, handle: str | None) -> None:
    """A new handle for an existing product, kept in the shop's handle index."""
    if handle is not None and handle != product.handle:
        old_handle, product.handle = product.handle, handle
        state.index_handle(product, old_handle=old_handle)


def _apply_product_fields(product: Product, product_input: Mapping[str, Any]) -> None:
    """Omitted non-list fields stay unchanged; ``tags`` overwrites all tags."""
    if product_input.get("title") is not None:
        product.title = product_input["title"]
    if product_input.get("status") is not None:
        product.status = product_input["status"]
    if "vendor" in product_input:
        product.vendor = product_input["vendor"] or ""
    if "productType" in product_input:
        product.product_type = product_input["productType"] or ""
    if "descriptionHtml" in product_input:
        product.description_html = product_input["descriptionHtml"] or ""
    if "templateSuffix" in product_input:
        product.template_suffix = product_input["templateSuffix"]
    if product_input.get("tags") is not None:
        product.tags = list(product_input["tags"])
    if product_input.get("seo") is not None:
        product.seo = {**product.seo, **product_input["seo"]}


# --- productDelete -------------------------------------------------------------------------------------


def product_delete(state: ShopState, delete_input: Mapping[str, Any]) -> MutationOutcome:
    """Delete a product with its variants and inventory items; plain UserError, no code (schema)."""
    product_id = delete_input["id"]
    product = state.products.pop(product_id, None)
    if product is None:
        return MutationOutcome(user_errors=[user_error(["id"], "Product does not exist")])
    state.unindex_handle(product)
    record_event(state, "destroy", product_id, title=product.title)
    forget_product(state, product)
    return MutationOutcome(deleted_product_id=product_id)


# --- inventorySetQuantities ----------------------------------------------------------------------------


def inventory_set_quantities(state: ShopState, set_input: Mapping[str, Any]) -> MutationOutcome:
    """Set absolute quantities per item and location.

    https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities
    """
    errors: list[UserErrorBody] = []
    name = set_input["name"]
    if name not in ("available", "on_hand"):
        errors.append(
            user_error(["input", "name"], "The quantity name must be available or on_hand.", "INVALID_NAME")
        )
    pairs: set[tuple[str, str]] = set()
    resolved: list[tuple[InventoryItem, str, int, int | None]] = []
    for index, quantity in enumerate(set_input["quantities"]):
        path: list[str | int] = ["input", "quantities", index]
        item = state.find_inventory_item(quantity["inventoryItemId"])
        if item is None:
            errors.append(
                user_error(
                    [*path, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                )
            )
            continue
        if quantity["locationId"] not in state.locations:
            errors.append(
                user_error(
                    [*path, "locationId"], "The specified location could not be found.", "INVALID_LOCATION"
                )
            )
            continue
        pair = (item.id, quantity["locationId"])
        if pair in pairs:
            errors.append(
                user_error(
                    [*path, "inventoryItemId"],
                    "The combination of inventoryItemId and locationId must be unique.",
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                )
            )
            continue
        pairs.add(pair)
        if quantity["quantity"] < -1_000_000_000 or quantity["quantity"] > 1_000_000_000:
            errors.append(
                user_error([*path, "quantity"], "The quantity is out of range.", "INVALID_QUANTITY_TOO_HIGH")
            )
            continue
        current = item.levels.get(quantity["locationId"], {}).get(name, 0)
        expected = quantity.get("changeFromQuantity")
        if expected is not None and expected != current:
            errors.append(
                user_error(
                    [*path, "changeFromQuantity"],
                    "The specified compare quantity does not match the current quantity.",
                    "CHANGE_FROM_QUANTITY_STALE",
                )
            )
            continue
        resolved.append((item, quantity["locationId"], quantity["quantity"], current))
    if errors:
        return MutationOutcome(user_errors=errors)
    now = utc_now()
    changes = []
    for item, location_id, quantity_value, before in resolved:
        item.levels.setdefault(location_id, {})[name] = quantity_value
        item.updated_at = now
        changes.append(
            {
                "name": name,
                "delta": quantity_value - (before or 0),
                "quantityAfterChange": quantity_value,
                "item": item.id,
                "location": location_id,
            }
        )
    return MutationOutcome(changes=changes)
