"""The root fields the simulator serves and the execution of a prepared request against the shop.

Execution is graphql-core's, over Shopify's real schema, with one field resolver: it reads the view
dicts of ``views.py`` and answers a clear error for any valid field the simulator does not serve, never a
silent null.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from graphql import ExecutionResult, GraphQLError, execute_sync

from shopify_simulator.app_installation import app_installation_view
from shopify_simulator.bulk_queries import BULK_QUERY_ROOT
from shopify_simulator.connections import View, connection
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.custom_ids import (
    find_by_custom_id,
    mutation_metafield_definition_create,
    mutation_metafields_set,
    query_metafield_definition,
)
from shopify_simulator.events import EVENT_QUERIES
from shopify_simulator.inventory import mutation_inventory_activate, mutation_inventory_set_quantities
from shopify_simulator.product_queries import (
    query_product_variants,
    query_product_variants_count,
    query_products,
    query_products_count,
)
from shopify_simulator.product_rules import MutationOutcome
from shopify_simulator.product_update import mutation_product_update
from shopify_simulator.products import (
    product_delete,
    product_set,
)
from shopify_simulator.publications import PUBLICATION_MUTATIONS, PUBLICATION_QUERIES
from shopify_simulator.schema import PreparedRequest, format_execution_error, load_schema
from shopify_simulator.state import Product
from shopify_simulator.variants_bulk import mutation_product_variants_bulk_update
from shopify_simulator.views import (
    inventory_item_view,
    location_view,
    product_view,
    shop_view,
    variant_view,
)

logger = logging.getLogger(__name__)

NOT_SIMULATED_CODE = "NOT_SIMULATED"


def resolve_field(source: Any, info: ResolveInfo, **arguments: Any) -> Any:
    """Read a field from a view; a field the view lacks is answered with an error, not null."""
    name = info.field_name
    if isinstance(source, Mapping) and name in source:
        value = source[name]
        return value(info, **arguments) if callable(value) else value
    raise GraphQLError(
        f"{info.parent_type.name}.{name} is not simulated by the erpsync simulator",
        extensions={"code": NOT_SIMULATED_CODE},
    )


def _context(info: ResolveInfo) -> ExecutionContext:
    context: ExecutionContext = info.context
    return context


# --- queries -------------------------------------------------------------------------------------------


def query_locations(info: ResolveInfo, **arguments: Any) -> View:
    """``locations(first, after, includeInactive)``."""
    context = _context(info)
    chosen = [
        location
        for location in context.state.locations.values()
        if location.is_active or arguments.get("includeInactive")
    ]
    chosen.sort(key=lambda location: location.name.lower())
    return connection(info, chosen, location_view, lambda location: location.id, arguments)


def query_product(info: ResolveInfo, **arguments: Any) -> View | None:
    """``product(id:)``."""
    context = _context(info)
    product = context.state.products.get(arguments["id"])
    return product_view(context.state, product) if product else None


def query_product_by_identifier(info: ResolveInfo, **arguments: Any) -> View | None:
    """``productByIdentifier(identifier: {id | handle | customId})``."""
    context = _context(info)
    identifier = arguments["identifier"]
    product: Product | None = None
    if identifier.get("id") is not None:
        product = context.state.products.get(identifier["id"])
    elif identifier.get("handle") is not None:
        product = context.state.product_by_handle(identifier["handle"])
    elif identifier.get("customId") is not None:
        product = find_by_custom_id(context.state, identifier["customId"])
    return product_view(context.state, product) if product else None


def query_product_variant(info: ResolveInfo, **arguments: Any) -> View | None:
    """``productVariant(id:)``."""
    context = _context(info)
    variant = context.state.find_variant(arguments["id"])
    return variant_view(context.state, variant) if variant else None


def query_inventory_item(info: ResolveInfo, **arguments: Any) -> View | None:
    """``inventoryItem(id:)``."""
    context = _context(info)
    item = context.state.find_inventory_item(arguments["id"])
    return inventory_item_view(context.state, item) if item else None


def query_nodes(info: ResolveInfo, **arguments: Any) -> list[View | None]:
    """``nodes(ids:)``: variants, inventory items and products by id, null for any other or unknown id.
    https://shopify.dev/docs/api/admin-graphql/latest/queries/nodes"""
    state = _context(info).state
    found: list[View | None] = []
    for node_id in arguments["ids"]:
        variant = state.find_variant(node_id) if "/ProductVariant/" in node_id else None
        item = state.find_inventory_item(node_id) if "/InventoryItem/" in node_id else None
        product = state.products.get(node_id)
        if variant is not None:
            found.append(variant_view(state, variant))
        elif item is not None:
            found.append(inventory_item_view(state, item))
        else:
            found.append(product_view(state, product) if product else None)
    return found


def query_location(info: ResolveInfo, **arguments: Any) -> View | None:
    """``location(id:)``; without an id, the shop's primary location."""
    context = _context(info)
    if arguments.get("id") is None:
        first = next(iter(context.state.locations.values()), None)
        return location_view(first) if first else None
    location = context.state.locations.get(arguments["id"])
    return location_view(location) if location else None


QUERY_ROOT: dict[str, Callable[..., Any]] = {
    "shop": lambda info, **_arguments: shop_view(_context(info).state, _context(info)),
    "locations": query_locations,
    "location": query_location,
    "products": query_products,
    "productsCount": query_products_count,
    "product": query_product,
    "productByIdentifier": query_product_by_identifier,
    "productVariants": query_product_variants,
    "productVariantsCount": query_product_variants_count,
    "productVariant": query_product_variant,
    "inventoryItem": query_inventory_item,
    "nodes": query_nodes,
    **BULK_QUERY_ROOT,
    "metafieldDefinition": query_metafield_definition,
    "currentAppInstallation": lambda info, **_arguments: app_installation_view(_context(info)),
    **PUBLICATION_QUERIES,
    **EVENT_QUERIES,
}


# --- mutations -----------------------------------------------------------------------------------------


def _count(info: ResolveInfo) -> ExecutionContext:
    """Count an executed mutation, direct or inside a bulk line (``/_simulator/stats`` ``mutations``)."""
    context = _context(info)
    context.stats.mutations[info.field_name] += 1
    return context


def mutation_product_set(info: ResolveInfo, **arguments: Any) -> View:
    """``productSet(input, identifier, synchronous)``; in bulk, ``synchronous`` is ignored (schema)."""
    context = _count(info)
    if arguments.get("synchronous") is False and not context.bulk_mutation:
        raise GraphQLError(
            "productSet(synchronous: false) is not simulated by the erpsync simulator",
            extensions={"code": NOT_SIMULATED_CODE},
        )
    outcome = product_set(
        context.state,
        arguments["input"],
        arguments.get("identifier"),
        context.options,
        context.faults.sku_errors,
        variant_day_offset=context.faults.variant_day_offset,
        stats=context.stats,
    )
    return {
        "product": product_view(context.state, outcome.product) if outcome.product else None,
        "productSetOperation": None,
        "userErrors": outcome.user_errors,
    }


def mutation_product_delete(info: ResolveInfo, **arguments: Any) -> View:
    """``productDelete(input: {id})``."""
    context = _count(info)
    if arguments.get("synchronous") is False and not context.bulk_mutation:
        raise GraphQLError(
            "productDelete(synchronous: false) is not simulated by the erpsync simulator",
            extensions={"code": NOT_SIMULATED_CODE},
        )
    outcome: MutationOutcome = product_delete(context.state, arguments["input"])
    return {
        "deletedProductId": outcome.deleted_product_id,
        "productDeleteOperation": None,
        "shop": shop_view(context.state, context),
        "userErrors": outcome.user_errors,
    }


def _bulk_manager(info: ResolveInfo) -> Any:
    context = _count(info)
    if context.bulk is None or context.bulk_mutation:
        raise GraphQLError(
            "Bulk mutations cannot run inside a bulk operation", extensions={"code": "INVALID"}
        )
    return context.bulk


def mutation_staged_uploads_create(info: ResolveInfo, **arguments: Any) -> View:
    """``stagedUploadsCreate(input)``."""
    manager = _bulk_manager(info)
    result: View = manager.create_staged_targets(_context(info), arguments["input"])
    return result


def mutation_bulk_operation_run_mutation(info: ResolveInfo, **arguments: Any) -> View:
    """``bulkOperationRunMutation(mutation, stagedUploadPath)``."""
    manager = _bulk_manager(info)
    result: View = manager.run_mutation(_context(info), arguments["mutation"], arguments["stagedUploadPath"])
    return result


def mutation_bulk_operation_run_query(info: ResolveInfo, **arguments: Any) -> View:
    """``bulkOperationRunQuery(query, groupObjects)``."""
    manager = _bulk_manager(info)
    result: View = manager.run_query(_context(info), arguments["query"], bool(arguments.get("groupObjects")))
    return result


def mutation_bulk_operation_cancel(info: ResolveInfo, **arguments: Any) -> View:
    """``bulkOperationCancel(id)``."""
    manager = _bulk_manager(info)
    result: View = manager.cancel(_context(info), arguments["id"])
    return result


MUTATION_ROOT: dict[str, Callable[..., Any]] = {
    "productSet": mutation_product_set,
    "productDelete": mutation_product_delete,
    "productUpdate": mutation_product_update,
    "inventorySetQuantities": mutation_inventory_set_quantities,
    "inventoryActivate": mutation_inventory_activate,
    "productVariantsBulkUpdate": mutation_product_variants_bulk_update,
    "stagedUploadsCreate": mutation_staged_uploads_create,
    "bulkOperationRunMutation": mutation_bulk_operation_run_mutation,
    "bulkOperationRunQuery": mutation_bulk_operation_run_query,
    "bulkOperationCancel": mutation_bulk_operation_cancel,
    "metafieldDefinitionCreate": mutation_metafield_definition_create,
    "metafieldsSet": mutation_metafields_set,
    **PUBLICATION_MUTATIONS,
}
BULK_ONLY_MUTATIONS = frozenset({"bulkOperationRunMutation", "bulkOperationRunQuery"})


# --- execution -----------------------------------------------------------------------------------------


def execute_prepared(prepared: PreparedRequest, context: ExecutionContext) -> dict[str, Any]:
    """Run a prepared request; return the response body's ``data`` and ``errors`` (Shopify-shaped)."""
    is_mutation = prepared.operation.operation.value == "mutation"
    result = execute_sync(
        load_schema(),
        prepared.document,
        root_value=MUTATION_ROOT if is_mutation else QUERY_ROOT,
        context_value=context,
        variable_values=prepared.variables,
        operation_name=prepared.operation.name.value if prepared.operation.name else None,
        field_resolver=resolve_field,
    )
    return _body(result)


def _body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_error_body(error) for error in result.errors]
    body["data"] = result.data
    return body


def _error_body(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        # A simulator bug: answer as Shopify answers its own failures, and log the cause.
        # https://shopify.dev/docs/api/admin-graphql (INTERNAL_SERVER_ERROR with a requestId)
        request_id = str(uuid.uuid4())
        logger.error("simulator failure %s", request_id, exc_info=original)
        return {
            "message": "Internal error. Looks like something went wrong on our end.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            "path": list(error.path or []),
        }
    return format_execution_error(error)
