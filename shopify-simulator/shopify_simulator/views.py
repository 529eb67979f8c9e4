"""The shop's objects as GraphQL sees them: dicts keyed by schema field name, connections with paging.

A value that needs arguments (a connection, ``metafield(namespace:, key:)``) is a function the field
resolver calls with the field's arguments. A field missing from a view is not simulated and answers an
error saying so (see ``resolvers.resolve_field``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopify_simulator.connections import View, connection, legacy_id
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.media import product_media_fields
from shopify_simulator.publications import product_publication_fields
from shopify_simulator.search import FieldGetter, matches, parse_search, unknown_fields
from shopify_simulator.state import (
    BulkOperation,
    InventoryItem,
    Location,
    Metafield,
    Product,
    ShopState,
    Variant,
    format_datetime,
)


def search_filter(
    info: ResolveInfo,
    query: str | None,
    known_fields: set[str],
    getter_of: Callable[[Any], FieldGetter],
) -> Callable[[Any], bool]:
    """A predicate for the ``query:`` argument; unknown fields are ignored with a warning, as on Shopify.

    https://shopify.dev/docs/api/usage/search-syntax
    """
    parsed = parse_search(query)
    unknown = unknown_fields(parsed, known_fields)
    if unknown:
        context: ExecutionContext = info.context
        context.search_warnings.append(
            {
                "path": list(info.path.as_list()),
                "query": query,
                "warnings": [
                    {"field": name, "message": "Invalid search field for this query."} for name in unknown
                ],
            }
        )
    return lambda record: matches(parsed, getter_of(record))


# --- metafields ----------------------------------------------------------------------------------------


def metafield_view(metafield: Metafield, owner_id: str) -> View:
    """A Metafield."""
    return {
        "__typename": "Metafield",
        "id": metafield.id,
        "legacyResourceId": legacy_id(metafield.id),
        "namespace": metafield.namespace,
        "key": metafield.key,
        "type": metafield.type,
        "value": metafield.value,
        "jsonValue": metafield.value,
        "createdAt": format_datetime(metafield.created_at),
        "updatedAt": format_datetime(metafield.updated_at),
        "ownerType": "PRODUCTVARIANT" if "ProductVariant" in owner_id else "PRODUCT",
    }


def _metafield_fields(metafields: list[Metafield], owner_id: str) -> View:
    def metafields_connection(info: ResolveInfo, **arguments: Any) -> View:
        selected = [
            entry
            for entry in metafields
            if (arguments.get("namespace") is None or entry.namespace == arguments["namespace"])
            and (arguments.get("keys") is None or f"{entry.namespace}.{entry.key}" in arguments["keys"])
        ]
        return connection(
            info, selected, lambda entry: metafield_view(entry, owner_id), lambda entry: entry.id, arguments
        )

    def one_metafield(info: ResolveInfo, **arguments: Any) -> View | None:
        namespace = arguments.get("namespace")
        key = arguments["key"]
        if namespace is None and "." in key:
            namespace, key = key.split(".", 1)
        for entry in metafields:
            if entry.key == key and (namespace is None or entry.namespace == namespace):
                return metafield_view(entry, owner_id)
        return None

    return {"metafields": metafields_connection, "metafield": one_metafield}


# --- locations, inventory ------------------------------------------------------------------------------


def location_view(location: Location) -> View:
    """A Location."""
    return {
        "__typename": "Location",
        "id": location.id,
        "legacyResourceId": legacy_id(location.id),
        "name": location.name,
        "isActive": location.is_active,
        "activatable": False,
        "deactivatable": True,
        "deletable": False,
        "fulfillsOnlineOrders": True,
        "hasActiveInventory": True,
        "shipsInventory": True,
        "isFulfillmentService": False,
        "createdAt": format_datetime(location.created_at),
        "updatedAt": format_datetime(location.created_at),
    }


def _quantities(levels: dict[str, int]) -> Callable[..., list[View]]:
    def quantities(info: ResolveInfo, **arguments: Any) -> list[View]:
        return [
            {
                "__typename": "InventoryQuantity",
                "id": f"gid://shopify/InventoryQuantity/{name}",
                "name": name,
                "quantity": levels.get(name, 0),
                "updatedAt": None,
            }
            for name in arguments["names"]
        ]

    return quantities


def inventory_level_view(state: ShopState, item: InventoryItem, location_id: str) -> View:
    """An InventoryLevel: one item at one location."""
    levels = item.levels.get(location_id, {})
    location = state.locations.get(location_id)
    return {
        "__typename": "InventoryLevel",
        "id": f"gid://shopify/InventoryLevel/{legacy_id(item.id)}?inventory_item_id={legacy_id(item.id)}",
        "isActive": True,
        "canDeactivate": True,
        "createdAt": format_datetime(item.created_at),
        "updatedAt": format_datetime(item.updated_at),
        "location": location_view(location) if location else None,
        "quantities": _quantities(levels),
    }


def inventory_item_view(state: ShopState, item: InventoryItem) -> View:
    """An InventoryItem with its levels per location."""

    def inventory_levels(info: ResolveInfo, **arguments: Any) -> View:
        return connection(
            info,
            sorted(item.levels),
            lambda location_id: inventory_level_view(state, item, location_id),
            lambda location_id: location_id,
            arguments,
        )

    def inventory_level(info: ResolveInfo, **arguments: Any) -> View | None:
        if arguments["locationId"] not in item.levels:
            return None
        return inventory_level_view(state, item, arguments["locationId"])

    return {
        "__typename": "InventoryItem",
        "id": item.id,
        "legacyResourceId": legacy_id(item.id),
        "sku": item.sku,
        "tracked": item.tracked,
        "requiresShipping": item.requires_shipping,
        "unitCost": None if item.cost is None else {"amount": item.cost, "currencyCode": "EUR"},
        "measurement": {
            "__typename": "InventoryItemMeasurement",
            "id": f"gid://shopify/InventoryItemMeasurement/{legacy_id(item.id)}",
            "weight": item.weight,
        },
        "createdAt": format_datetime(item.created_at),
        "updatedAt": format_datetime(item.updated_at),
        "inventoryLevels": inventory_levels,
        "inventoryLevel": inventory_level,
    }


# --- products and variants -----------------------------------------------------------------------------


def variant_view(state: ShopState, variant: Variant, product: Product | None = None) -> View:
    """A ProductVariant."""
    owner = product or state.products.get(variant.product_id)
    available = sum(levels.get("available", 0) for levels in variant.inventory_item.levels.values())
    return {
        "__typename": "ProductVariant",
        "id": variant.id,
        "legacyResourceId": legacy_id(variant.id),
        "sku": variant.sku,
        "barcode": variant.barcode,
        "price": variant.price,
        "compareAtPrice": variant.compare_at_price,
        "taxable": variant.taxable,
        "inventoryPolicy": variant.inventory_policy,
        "inventoryQuantity": available,
        "position": variant.position,
        "title": variant.title,
        "displayName": f"{owner.title if owner else ''} - {variant.title}",
        "availableForSale": owner is not None and owner.status == "ACTIVE",
        "requiresComponents": False,
        "showUnitPrice": False,
        "selectedOptions": [
            {"name": name, "value": value, "optionValue": _option_value_view(owner, name, value)}
            for name, value in variant.selected_options
        ],
        "inventoryItem": inventory_item_view(state, variant.inventory_item),
        "product": (lambda info, **_arguments: product_view(state, owner)) if owner else None,
        "createdAt": format_datetime(variant.created_at),
        "updatedAt": format_datetime(variant.updated_at),
        **_metafield_fields(variant.metafields, variant.id),
    }


def _option_value_view(product: Product | None, option_name: str, value_name: str) -> View | None:
    for option in product.options if product else []:
        if option.name == option_name:
            for value in option.values:
                if value.name == value_name:
                    return {
                        "__typename": "ProductOptionValue",
                        "id": value.id,
                        "name": value.name,
                        "hasVariants": True,
                    }
    return None


def product_view(state: ShopState, product: Product) -> View:
    """A Product."""

    def variants(info: ResolveInfo, **arguments: Any) -> View:
        return connection(
            info,
            product.variants,
            lambda variant: variant_view(state, variant, product),
            lambda variant: variant.id,
            arguments,
        )

    def options(info: ResolveInfo, **arguments: Any) -> list[View]:
        chosen = (
            product.options[: arguments["first"]] if arguments.get("first") is not None else product.options
        )
        return [
            {
                "__typename": "ProductOption",
                "id": option.id,
                "name": option.name,
                "position": option.position,
                "values": [value.name for value in option.values],
                "optionValues": [
                    {
                        "__typename": "ProductOptionValue",
                        "id": value.id,
                        "name": value.name,
                        "hasVariants": True,
                    }
                    for value in option.values
                ],
            }
            for option in chosen
        ]

    total = sum(
        levels.get("available", 0)
        for variant in product.variants
        for levels in variant.inventory_item.levels.values()
    )
    return {
        "__typename": "Product",
        "id": product.id,
        "legacyResourceId": legacy_id(product.id),
        "handle": product.handle,
        "title": product.title,
        "status": product.status,
        "vendor": product.vendor,
        "productType": product.product_type,
        "tags": list(product.tags),
        "descriptionHtml": product.description_html,
        "seo": {"title": product.seo.get("title"), "description": product.seo.get("description")},
        "description": lambda info, **_arguments: product.description_html,
        "templateSuffix": product.template_suffix,
        "createdAt": format_datetime(product.created_at),
        "updatedAt": format_datetime(product.updated_at),
        "publishedAt": format_datetime(product.created_at) if product.status == "ACTIVE" else None,
        "totalInventory": total,
        "tracksInventory": any(variant.inventory_item.tracked for variant in product.variants),
        "hasOnlyDefaultVariant": len(product.variants) == 1
        and product.variants[0].selected_options == [("Title", "Default Title")],
        "isGiftCard": False,
        "requiresSellingPlan": False,
        "variantsCount": {"count": len(product.variants), "precision": "EXACT"},
        "options": options,
        "variants": variants,
        **_metafield_fields(product.metafields, product.id),
        **product_media_fields(product),
        **product_publication_fields(product),
    }


# --- shop and bulk operations --------------------------------------------------------------------------


def shop_view(state: ShopState, context: ExecutionContext) -> View:
    """The Shop."""
    return {
        "__typename": "Shop",
        "id": "gid://shopify/Shop/1",
        "name": state.shop_name,
        "myshopifyDomain": state.shop_domain,
        "email": "owner@example.com",
        "contactEmail": "owner@example.com",
        "currencyCode": context.options.currency_code,
        "ianaTimezone": "Etc/UTC",
        "timezoneAbbreviation": "UTC",
        "timezoneOffset": "+0000",
        "timezoneOffsetMinutes": 0,
        "url": f"https://{state.shop_domain}",
        "weightUnit": "KILOGRAMS",
        "unitSystem": "METRIC_SYSTEM",
        "taxesIncluded": True,
        "plan": {
            "__typename": "ShopPlan",
            "partnerDevelopment": False,
            "shopifyPlus": context.options.plan == "plus",
            "publicDisplayName": context.options.plan.capitalize(),
        },
    }


def bulk_operation_view(operation: BulkOperation, context: ExecutionContext) -> View:
    """A BulkOperation; URLs are absolute, derived from the asking request's host."""
    return {
        "__typename": "BulkOperation",
        "id": operation.id,
        "type": operation.type,
        "status": operation.status,
        "errorCode": operation.error_code,
        "createdAt": format_datetime(operation.created_at),
        "completedAt": format_datetime(operation.completed_at),
        # UnsignedInt64 values are strings. https://shopify.dev/docs/api/admin-graphql/latest/objects/BulkOperation
        "objectCount": str(operation.object_count),
        "rootObjectCount": str(operation.root_object_count),
        "fileSize": None if operation.file_size is None else str(operation.file_size),
        "url": context.absolute_url(operation.result_path),
        "partialDataUrl": context.absolute_url(operation.partial_result_path),
        "query": operation.query,
    }
