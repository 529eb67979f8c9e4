"""The root queries that read bulk operations, and the API version each one needs.

``bulkOperation(id:)`` and ``bulkOperations`` are new in 2026-01: the schema tracker records both as
"new top-level queries" in the 2026-01 release candidate of 2025-10-29
(https://shopify-schema-tracker.tim-maier.workers.dev/changes/16), and Shopify's CLI pins
``BULK_OPERATIONS_MIN_API_VERSION = '2026-01'`` for them (Shopify/cli
``packages/app/src/cli/services/bulk-operations/constants.ts``). Older versions read an operation through
``node(id:)`` or ``currentBulkOperation``. The simulator validates every request against the 2026-10 schema,
so it refuses the two newer fields here, with the error an older schema gives for an unknown field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError

from shopify_simulator.connections import View, connection, legacy_id
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.state import BulkOperation
from shopify_simulator.views import bulk_operation_view, search_filter

BULK_QUERIES_VERSION = "2026-01"
BULK_SEARCH_FIELDS = {"status", "operation_type", "created_at", "id"}


def _context(info: ResolveInfo) -> ExecutionContext:
    context: ExecutionContext = info.context
    return context


def _numeric(global_id: str) -> int:
    tail = legacy_id(global_id)
    return int(tail) if tail.isdigit() else 0


def _require_version(info: ResolveInfo) -> ExecutionContext:
    """Refuse a field the request's API version does not have, as that version's schema would."""
    context = _context(info)
    if context.api_version < BULK_QUERIES_VERSION:
        raise GraphQLError(
            f"Field '{info.field_name}' doesn't exist on type 'QueryRoot'",
            extensions={
                "code": "undefinedField",
                "typeName": "QueryRoot",
                "fieldName": info.field_name,
            },
        )
    return context


def query_bulk_operation(info: ResolveInfo, **arguments: Any) -> View | None:
    """``bulkOperation(id:)`` (2026-01 and later)."""
    context = _require_version(info)
    operation = context.state.bulk_operations.get(arguments["id"])
    return bulk_operation_view(operation, context) if operation else None


def query_node(info: ResolveInfo, **arguments: Any) -> View | None:
    """``node(id:)`` for bulk operations, the way every version reads one by id."""
    context = _context(info)
    operation = context.state.bulk_operations.get(arguments["id"])
    if operation is not None:
        return bulk_operation_view(operation, context)
    if "/BulkOperation/" in arguments["id"]:
        return None
    raise GraphQLError(
        "node(id:) is simulated for bulk operations only by the erpsync simulator",
        extensions={"code": "NOT_SIMULATED"},
    )


def query_current_bulk_operation(info: ResolveInfo, **arguments: Any) -> View | None:
    """``currentBulkOperation(type:)``: the latest operation of that type (deprecated in 2026-10)."""
    context = _context(info)
    wanted = arguments.get("type") or "QUERY"
    latest: BulkOperation | None = None
    for operation in context.state.bulk_operations.values():
        if operation.type == wanted:
            latest = operation
    return bulk_operation_view(latest, context) if latest else None


def _bulk_fields(operation: BulkOperation) -> Callable[[str], list[Any] | None]:
    def get(name: str) -> list[Any] | None:
        values: dict[str, list[Any]] = {
            "status": [operation.status],
            "operation_type": [operation.type],
            "created_at": [operation.created_at],
            "id": [_numeric(operation.id)],
        }
        return values.get(name)

    return get


def query_bulk_operations(info: ResolveInfo, **arguments: Any) -> View:
    """``bulkOperations(first, after, query, sortKey, reverse)`` (2026-01 and later): newest first."""
    context = _require_version(info)
    keep = search_filter(info, arguments.get("query"), BULK_SEARCH_FIELDS, _bulk_fields)
    chosen = [operation for operation in context.state.bulk_operations.values() if keep(operation)]
    if arguments.get("sortKey") == "COMPLETED_AT":
        chosen.sort(
            key=lambda operation: (operation.completed_at is None, operation.completed_at), reverse=True
        )
    else:
        chosen.sort(key=lambda operation: _numeric(operation.id), reverse=True)
    if arguments.get("reverse"):
        chosen.reverse()
    view = lambda operation: bulk_operation_view(operation, context)  # noqa: E731
    return connection(info, chosen, view, lambda operation: operation.id, arguments)


BULK_QUERY_ROOT: dict[str, Callable[..., Any]] = {
    "bulkOperation": query_bulk_operation,
    "bulkOperations": query_bulk_operations,
    "currentBulkOperation": query_current_bulk_operation,
    "node": query_node,
}
