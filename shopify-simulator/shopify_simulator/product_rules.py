"""The rules productSet checks before it changes anything, each answered with the schema's userError code.

Which product an ``identifier`` names, and whether options, variants, quantities and metafields are
consistent. https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet ·
https://shopify.dev/changelog/productset-and-customerset-mutations-now-support-upserts
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopify_simulator.custom_ids import find_by_custom_id, is_id_metafield
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.state import Product, ShopState

MAX_OPTIONS = 3  # "maximum of 3 per product" (schema, ProductSetInput.productOptions)
MAX_VARIANTS = 2048  # https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
MAX_INVENTORY_QUANTITIES = 50_000  # ProductSetUserErrorCode.INVENTORY_QUANTITIES_LIMIT_EXCEEDED (schema)
CUSTOM_ID_DEFAULT_NAMESPACE = "$app"

UserErrorBody = dict[str, Any]


@dataclass
class MutationOutcome:
    """What a product mutation did: the product it touched (or deleted id) and its userErrors."""

    product: Product | None = None
    deleted_product_id: str | None = None
    user_errors: list[UserErrorBody] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)


def user_error(field_path: list[str | int] | None, message: str, code: str | None = None) -> UserErrorBody:
    """A userError; ``field`` is the input path as strings, as Shopify sends it."""
    body: UserErrorBody = {"field": None if field_path is None else [str(step) for step in field_path]}
    body["message"] = message
    if code is not None:
        body["code"] = code
    return body


@dataclass
class ProductSetPlan:
    """Everything productSet decided before applying it."""

    existing: Product | None
    errors: list[UserErrorBody] = field(default_factory=list)


def resolve_target(
    state: ShopState,
    product_input: Mapping[str, Any],
    identifier: Mapping[str, Any] | None,
    options: SimulatorOptions,
) -> ProductSetPlan:
    """Which product productSet updates (None = create), or the userErrors that stop it.

    https://shopify.dev/changelog/productset-and-customerset-mutations-now-support-upserts
    """
    plan = ProductSetPlan(existing=None)
    missing_code = options.missing_product_error_code
    if identifier and product_input.get("id") is not None:
        plan.errors.append(
            user_error(
                ["input", "id"], "The id field is not allowed if identifier is provided.", "ID_NOT_ALLOWED"
            )
        )
        return plan
    if identifier and identifier.get("id") is not None:
        plan.existing = state.products.get(identifier["id"])
        if plan.existing is None:
            plan.errors.append(user_error(["identifier", "id"], "Product does not exist", missing_code))
    elif identifier and identifier.get("handle") is not None:
        handle = identifier["handle"]
        if product_input.get("handle") is None:
            plan.errors.append(
                user_error(
                    ["input", "handle"],
                    "The input field corresponding to the identifier is required.",
                    "MISSING_FIELD_REQUIRED",
                )
            )
        elif product_input["handle"] != handle:
            plan.errors.append(
                user_error(
                    ["input", "handle"],
                    "The identifier value does not match the value of the corresponding field in the input.",
                    "INPUT_MISMATCH",
                )
            )
        plan.existing = state.product_by_handle(handle)
    elif identifier and identifier.get("customId") is not None:
        custom_id = identifier["customId"]
        namespace = custom_id.get("namespace") or CUSTOM_ID_DEFAULT_NAMESPACE
        metafields = product_input.get("metafields")
        if options.custom_id_requires_definition and not is_id_metafield(state, namespace, custom_id["key"]):
            # The guide's step 1: a definition of type id first (the exact error is unconfirmed).
            plan.errors.append(
                user_error(
                    ["identifier", "customId"],
                    f"No metafield definition of type id for {namespace}.{custom_id['key']}.",
                    "INVALID_INPUT",
                )
            )
        elif metafields is None:
            plan.errors.append(
                user_error(
                    ["input", "metafields"],
                    "The input field corresponding to the identifier is required.",
                    "MISSING_FIELD_REQUIRED",
                )
            )
        elif not any(
            (entry.get("namespace") or CUSTOM_ID_DEFAULT_NAMESPACE) == namespace
            and entry.get("key") == custom_id["key"]
            and entry.get("value") == custom_id["value"]
            for entry in metafields
        ):
            plan.errors.append(
                user_error(
                    ["input", "metafields"],
                    "The input argument `metafields` (if present) must contain the `customId` value.",
                    "METAFIELD_MISMATCH",
                )
            )
        plan.existing = find_by_custom_id(state, custom_id)
    elif product_input.get("id") is not None:
        plan.existing = state.products.get(product_input["id"])
        if plan.existing is None:
            plan.errors.append(user_error(["input", "id"], "Product does not exist", missing_code))
    return plan


def check_options_and_variants(
    state: ShopState,
    product_input: Mapping[str, Any],
    existing: Product | None,
    failing_skus: Mapping[str, str],
) -> list[UserErrorBody]:
    """The option/variant rules of productSet, each with the schema's ProductSetUserErrorCode."""
    errors: list[UserErrorBody] = []
    options_input = product_input.get("productOptions")
    variants_input = product_input.get("variants")
    # Options and variants travel together. ProductSetUserErrorCode (schema).
    if variants_input is not None and options_input is None:
        return [
            user_error(
                ["input", "productOptions"],
                "Must specify product options when updating variants.",
                "PRODUCT_OPTIONS_INPUT_MISSING",
            )
        ]
    if options_input is not None and variants_input is None:
        return [
            user_error(
                ["input", "variants"],
                "Must specify variants when updating options.",
                "VARIANTS_INPUT_MISSING",
            )
        ]
    if options_input is None or variants_input is None:
        return []
    if len(options_input) > MAX_OPTIONS:
        errors.append(user_error(["input", "productOptions"], "Options over limit.", "OPTIONS_OVER_LIMIT"))
    if len(variants_input) > MAX_VARIANTS:
        errors.append(
            user_error(
                ["input", "variants"], "Number of product variants exceeds shop limit.", "VARIANTS_OVER_LIMIT"
            )
        )
    if errors:
        return errors
    option_values, errors = _check_option_definitions(options_input)
    if errors:
        return errors
    existing_variant_ids = {variant.id for variant in existing.variants} if existing else set()
    seen_combinations: set[tuple[str, ...]] = set()
    for index, variant in enumerate(variants_input):
        path: list[str | int] = ["input", "variants", index]
        if variant.get("id") is not None and variant["id"] not in existing_variant_ids:
            errors.append(
                user_error([*path, "id"], "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST")
            )
        chosen, value_errors = _check_variant_option_values(variant, path, option_values)
        errors.extend(value_errors)
        combination = tuple(chosen.get(name, "") for name in option_values)
        if not value_errors and combination in seen_combinations:
            errors.append(
                user_error(
                    [*path, "optionValues"],
                    f"The variant '{' / '.join(combination)}' already exists.",
                    "INVALID_VARIANT",
                )
            )
        seen_combinations.add(combination)
        sku = variant.get("sku")
        if sku is not None and sku in failing_skus:
            errors.append(user_error([*path, "sku"], failing_skus[sku], "INVALID_VARIANT"))
        errors.extend(_check_inventory(state, variant, path, existing))
    quantity_count = sum(len(variant.get("inventoryQuantities") or []) for variant in variants_input)
    if quantity_count > MAX_INVENTORY_QUANTITIES:
        errors.append(
            user_error(
                ["input", "variants"],
                "Inventory quantity input exceeds the limit of 50000. "
                "Consider using separate `inventorySetQuantities` mutations.",
                "INVENTORY_QUANTITIES_LIMIT_EXCEEDED",
            )
        )
    return errors


def _check_option_definitions(
    options_input: list[Mapping[str, Any]],
) -> tuple[dict[str, list[str]], list[UserErrorBody]]:
    """Option names unique and present, each with at least one distinct value."""
    errors: list[UserErrorBody] = []
    option_values: dict[str, list[str]] = {}
    for index, option in enumerate(options_input):
        path: list[str | int] = ["input", "productOptions", index]
        name = option.get("name")
        values = [value.get("name") for value in option.get("values") or []]
        if not name:
            errors.append(user_error([*path, "name"], "Option name is required.", "INVALID_INPUT"))
            continue
        if name in option_values:
            errors.append(user_error([*path, "name"], "Duplicated option name.", "DUPLICATED_OPTION_NAME"))
        if not values:
            errors.append(
                user_error(
                    [*path, "values"],
                    "Each option must have at least one option value specified.",
                    "OPTION_VALUES_MISSING",
                )
            )
        elif len(set(values)) != len(values):
            errors.append(
                user_error([*path, "values"], "Duplicated option value.", "DUPLICATED_OPTION_VALUE")
            )
        option_values[name] = [value for value in values if value is not None]
    return option_values, errors


def _check_variant_option_values(
    variant: Mapping[str, Any], path: list[str | int], option_values: dict[str, list[str]]
) -> tuple[dict[str, str], list[UserErrorBody]]:
    """Every variant names one existing value of every option, and nothing else."""
    errors: list[UserErrorBody] = []
    chosen: dict[str, str] = {}
    for value_index, value in enumerate(variant.get("optionValues") or []):
        option_name = value.get("optionName")
        value_name = value.get("name")
        value_path = [*path, "optionValues", value_index]
        if option_name not in option_values:
            errors.append(
                user_error([*value_path, "optionName"], "Option does not exist.", "OPTION_DOES_NOT_EXIST")
            )
        elif value_name not in option_values[option_name]:
            errors.append(
                user_error(
                    [*value_path, "name"], "Option value does not exist.", "OPTION_VALUE_DOES_NOT_EXIST"
                )
            )
        elif option_name in chosen:
            errors.append(user_error(value_path, "Duplicated option name.", "DUPLICATED_OPTION_NAME"))
        else:
            chosen[option_name] = value_name
    if not errors and set(chosen) != set(option_values):
        errors.append(
            user_error(
                [*path, "optionValues"],
                "Each variant must have a value for every product option.",
                "INVALID_VARIANT",
            )
        )
    return chosen, errors


def _check_inventory(
    state: ShopState, variant: Mapping[str, Any], path: list[str | int], existing: Product | None
) -> list[UserErrorBody]:
    """Quantities name a known location; an existing variant only where it is already stocked (schema)."""
    errors: list[UserErrorBody] = []
    current = None
    if existing is not None and variant.get("id") is not None:
        current = next((entry for entry in existing.variants if entry.id == variant["id"]), None)
    for index, quantity in enumerate(variant.get("inventoryQuantities") or []):
        quantity_path = [*path, "inventoryQuantities", index]
        if quantity["locationId"] not in state.locations:
            errors.append(
                user_error([*quantity_path, "locationId"], "Location does not exist.", "INVALID_INPUT")
            )
        elif current is not None and quantity["locationId"] not in current.inventory_item.levels:
            errors.append(
                user_error(
                    [*quantity_path, "locationId"],
                    "Inventory quantities can only be updated at locations where the variant is stocked.",
                    "INVALID_INPUT",
                )
            )
        if quantity["name"] not in ("available", "on_hand"):
            errors.append(
                user_error(
                    [*quantity_path, "name"], "Quantity name must be available or on_hand.", "INVALID_INPUT"
                )
            )
    return errors


def check_metafields(entries: list[Mapping[str, Any]] | None, path: list[str | int]) -> list[UserErrorBody]:
    errors: list[UserErrorBody] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries or []):
        if not entry.get("key") or entry.get("value") is None or not entry.get("type"):
            errors.append(
                user_error([*path, index], "Metafield needs a key, a type and a value.", "INVALID_METAFIELD")
            )
            continue
        identity = (entry.get("namespace") or CUSTOM_ID_DEFAULT_NAMESPACE, entry["key"])
        if identity in seen:
            errors.append(user_error([*path, index, "key"], "Duplicated value.", "DUPLICATED_VALUE"))
        seen.add(identity)
    return errors
