"""Metafield definitions and custom IDs: the app-owned identifier productSet can create and update by.

A metafield whose definition has type ``id`` holds a value unique across the shop and can identify a
product (``identifier.customId``). Shopify requires that definition before the identifier is used, and
refuses a second product with the same value. The reserved namespace ``$app`` is kept as written here
(Shopify stores it as ``app--<app id>``; the simulator has one app).
https://shopify.dev/docs/apps/build/metafields/working-with-custom-ids
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.state import Metafield, MetafieldDefinition, Product, ShopState, utc_now

APP_NAMESPACE = "$app"
ID_TYPE = "id"
View = dict[str, Any]


def definition_key(owner_type: str, namespace: str | None, key: str) -> str:
    return f"{owner_type}/{namespace or APP_NAMESPACE}/{key}"


def find_definition(
    state: ShopState, owner_type: str, namespace: str | None, key: str
) -> MetafieldDefinition | None:
    return state.metafield_definitions.get(definition_key(owner_type, namespace, key))


def is_id_metafield(state: ShopState, namespace: str | None, key: str) -> bool:
    """Whether a product metafield is a custom ID (its definition has type ``id``)."""
    definition = find_definition(state, "PRODUCT", namespace, key)
    return definition is not None and definition.type == ID_TYPE


def _custom_ids(state: ShopState) -> dict[tuple[str, str, str], str]:
    """(namespace, key, value) -> product id, built once: a scan per bulk line made large files quadratic."""
    index: dict[tuple[str, str, str], str] | None = state.__dict__.get("_custom_id_index")
    if index is None:
        index = {
            (metafield.namespace, metafield.key, metafield.value): product.id
            for product in state.products.values()
            for metafield in product.metafields
        }
        state.__dict__["_custom_id_index"] = index
    return index


def find_by_custom_id(state: ShopState, custom_id: Mapping[str, Any]) -> Product | None:
    """The product holding this metafield value, checked against the product itself (the index may lag)."""
    namespace = custom_id.get("namespace") or APP_NAMESPACE
    identity = (namespace, str(custom_id["key"]), str(custom_id["value"]))
    product = state.products.get(_custom_ids(state).get(identity, ""))
    if product is not None and any(
        (metafield.namespace, metafield.key, metafield.value) == identity for metafield in product.metafields
    ):
        return product
    return None


def index_custom_ids(state: ShopState, product: Product) -> None:
    """Record a product's metafield values after they changed."""
    index = _custom_ids(state)
    for metafield in product.metafields:
        index[(metafield.namespace, metafield.key, metafield.value)] = product.id


def taken_custom_id(
    state: ShopState, product_id: str | None, entries: list[Mapping[str, Any]] | None
) -> str | None:
    """The first id-typed metafield value in `entries` that another product already holds."""
    for entry in entries or []:
        namespace = entry.get("namespace") or APP_NAMESPACE
        if not is_id_metafield(state, namespace, str(entry["key"])):
            continue
        holder = find_by_custom_id(
            state, {"namespace": namespace, "key": entry["key"], "value": entry["value"]}
        )
        if holder is not None and holder.id != product_id:
            return f"{namespace}.{entry['key']}"
    return None


# --- GraphQL ---------------------------------------------------------------------------------------------


def definition_view(definition: MetafieldDefinition) -> View:
    return {
        "__typename": "MetafieldDefinition",
        "id": definition.id,
        "name": definition.name,
        "namespace": definition.namespace,
        "key": definition.key,
        "ownerType": definition.owner_type,
        "type": {"__typename": "MetafieldDefinitionType", "name": definition.type, "category": "TEXT"},
        "description": None,
        "pinnedPosition": None,
        "useAsCollectionCondition": False,
        "validations": [],
        "validationStatus": "ALL_VALID",
    }


def query_metafield_definition(info: ResolveInfo, **arguments: Any) -> View | None:
    """``metafieldDefinition(id | identifier: {ownerType, namespace, key})``."""
    context: ExecutionContext = info.context
    state = context.state
    if arguments.get("id") is not None:
        found = next((d for d in state.metafield_definitions.values() if d.id == arguments["id"]), None)
    else:
        identifier = arguments.get("identifier") or {}
        found = find_definition(
            state, identifier["ownerType"], identifier.get("namespace"), identifier["key"]
        )
    return definition_view(found) if found is not None else None


def mutation_metafield_definition_create(info: ResolveInfo, **arguments: Any) -> View:
    """``metafieldDefinitionCreate(definition)``: ``TAKEN`` when the owner type, namespace and key exist."""
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    given = arguments["definition"]
    identity = definition_key(given["ownerType"], given.get("namespace"), given["key"])
    if identity in context.state.metafield_definitions:
        error = {
            "field": ["definition", "key"],
            "message": "Key is in use for Product metafields on the 'namespace'.",
            "code": "TAKEN",
            "elementKey": None,
            "elementIndex": None,
        }
        return {"createdDefinition": None, "userErrors": [error]}
    definition = MetafieldDefinition(
        id=context.state.new_id("MetafieldDefinition"),
        owner_type=given["ownerType"],
        namespace=given.get("namespace") or APP_NAMESPACE,
        key=given["key"],
        type=given["type"],
        name=given["name"],
        created_at=utc_now(),
    )
    context.state.metafield_definitions[identity] = definition
    return {"createdDefinition": definition_view(definition), "userErrors": []}


def mutation_metafields_set(info: ResolveInfo, **arguments: Any) -> View:
    """``metafieldsSet(metafields)`` on products: all or nothing; an id-typed value another product holds
    is ``TAKEN``. https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet"""
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    state = context.state
    errors: list[View] = []
    for index, entry in enumerate(arguments["metafields"]):
        product = state.products.get(entry["ownerId"])
        if product is None:
            errors.append(
                {
                    "field": ["metafields", str(index), "ownerId"],
                    "message": "Owner does not exist.",
                    "code": "INVALID",
                    "elementIndex": index,
                }
            )
        elif taken_custom_id(state, product.id, [entry]):
            errors.append(
                {
                    "field": ["metafields", str(index), "value"],
                    "message": "Value is already taken.",
                    "code": "TAKEN",
                    "elementIndex": index,
                }
            )
    if errors:
        return {"metafields": None, "userErrors": errors}
    written: list[View] = []
    now = utc_now()
    for entry in arguments["metafields"]:
        product = state.products[entry["ownerId"]]
        namespace = entry.get("namespace") or APP_NAMESPACE
        current = next(
            (m for m in product.metafields if (m.namespace, m.key) == (namespace, entry["key"])), None
        )
        if current is None:
            current = Metafield(
                state.new_id("Metafield"),
                namespace,
                entry["key"],
                entry.get("type") or "",
                entry["value"],
                now,
                now,
            )
            product.metafields.append(current)
        else:
            current.value, current.updated_at = entry["value"], now
            current.type = entry.get("type") or current.type
        index_custom_ids(state, product)
        written.append(
            {
                "__typename": "Metafield",
                "id": current.id,
                "namespace": namespace,
                "key": current.key,
                "value": current.value,
                "type": current.type,
            }
        )
    return {"metafields": written, "userErrors": []}
