"""Bulk query export: the documented restrictions, and the JSONL with one node per line and ``__parentId``.

Rules: at least one connection, at most five in all, at most two levels of nesting, every connection's
nodes implement ``Node``, no top-level ``node``/``nodes``; ``first`` and cursors are ignored. Nodes of a
nested connection get their own line with ``__parentId``; other nested objects stay inline.
https://shopify.dev/docs/api/usage/bulk-operations/queries
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)

from shopify_simulator.context import ExecutionContext
from shopify_simulator.cost import _fields, _fragments, _node_selections, is_connection
from shopify_simulator.schema import PreparedRequest, load_schema
from shopify_simulator.state import BulkOperation

if TYPE_CHECKING:
    from shopify_simulator.bulk import BulkManager

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 5
MAX_NESTING = 2
# An alias under which every object's id is fetched, so that children can name their parent even
# when the query does not select ``id``. Removed from the output.
PARENT_ID_ALIAS = "erpsyncBulkObjectId"


def _implements_node(named: GraphQLNamedType) -> bool:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        return named.name == "Node" or any(interface.name == "Node" for interface in named.interfaces)
    return False


def validate_bulk_query(prepared: PreparedRequest) -> str | None:
    """The first documented restriction the query breaks, or None."""
    schema = load_schema()
    if prepared.operation.operation.value != "query":
        return "Bulk queries must be queries, not mutations."
    fragments = _fragments(prepared)
    root = schema.query_type
    assert root is not None
    top = list(_fields(prepared.operation.selection_set, fragments))
    if any(field.name.value in ("node", "nodes") for field in top):
        return "Bulk queries cannot use the top-level `node` or `nodes` fields."
    found: list[int] = []
    problem = _walk_connections(root, prepared.operation.selection_set, fragments, 0, found)
    if problem is not None:
        return problem
    if not found:
        return "Bulk queries must contain at least one connection."
    if len(found) > MAX_CONNECTIONS:
        return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
    return None


def _walk_connections(
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, Any],
    depth: int,
    found: list[int],
) -> str | None:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return None
    for field in _fields(selection_set, fragments):
        definition = parent.fields.get(field.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if is_connection(named):
            assert isinstance(named, GraphQLObjectType)
            if depth > MAX_NESTING:
                return f"Bulk queries cannot contain connections nested more than {MAX_NESTING} levels deep."
            found.append(depth)
            for node_type, node_selection, _key, _edges in _node_selections(field, named, fragments):
                if not _implements_node(node_type):
                    return f"The connection `{field.name.value}` must return objects that implement Node."
                problem = _walk_connections(node_type, node_selection, fragments, depth + 1, found)
                if problem is not None:
                    return problem
        else:
            problem = _walk_connections(named, field.selection_set, fragments, depth, found)
            if problem is not None:
                return problem
    return None


class _AddObjectIds(Visitor):
    """Adds ``erpsyncBulkObjectId: id`` to every selection set whose type has an ``id``."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> SelectionSetNode | None:
        parent = self.type_info.get_parent_type()
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) or "id" not in parent.fields:
            return None
        if any(
            isinstance(child, FieldNode) and child.alias and child.alias.value == PARENT_ID_ALIAS
            for child in node.selections
        ):
            return None
        extra = FieldNode(
            alias=NameNode(value=PARENT_ID_ALIAS), name=NameNode(value="id"), arguments=(), directives=()
        )
        return SelectionSetNode(selections=(*node.selections, extra))


def _with_object_ids(prepared: PreparedRequest) -> PreparedRequest:
    type_info = TypeInfo(load_schema())
    document = visit(prepared.document, TypeInfoVisitor(type_info, _AddObjectIds(type_info)))
    operation = next(
        definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)
    )
    return PreparedRequest(document=document, operation=operation, variables={})


def flatten_result(prepared: PreparedRequest, data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """JSONL objects (parent before its children) and the number of top-level objects."""
    schema = load_schema()
    root = schema.query_type
    assert root is not None
    lines: list[dict[str, Any]] = []
    fragments = _fragments(prepared)
    roots = _flatten(
        root, prepared.operation.selection_set, data, parent_id=None, lines=lines, fragments=fragments
    )
    return lines, roots


def _flatten(
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    value: dict[str, Any],
    *,
    parent_id: str | None,
    lines: list[dict[str, Any]],
    fragments: dict[str, Any],
) -> int:
    """Move every nested connection's nodes out of ``value`` into ``lines``; return how many nodes moved."""
    moved = 0
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    for field in _fields(selection_set, fragments):
        definition = parent.fields.get(field.name.value)
        key = (field.alias or field.name).value
        if definition is None or key not in value:
            continue
        named = get_named_type(definition.type)
        if is_connection(named):
            assert isinstance(named, GraphQLObjectType)
            connection_value = value.pop(key) or {}
            for node_type, node_selection, node_key, through_edges in _node_selections(
                field, named, fragments
            ):
                if through_edges:
                    edges_key, inner_key = node_key.split(".", 1)
                    nodes = [edge[inner_key] for edge in connection_value.get(edges_key) or []]
                else:
                    nodes = list(connection_value.get(node_key) or [])
                for node in nodes:
                    node_id = node.get(PARENT_ID_ALIAS)
                    children: list[dict[str, Any]] = []
                    _flatten(
                        node_type,
                        node_selection,
                        node,
                        parent_id=node_id,
                        lines=children,
                        fragments=fragments,
                    )
                    node.pop(PARENT_ID_ALIAS, None)
                    if parent_id is not None:
                        node["__parentId"] = parent_id
                    lines.append(node)
                    lines.extend(children)
                    moved += 1
                if nodes:
                    break  # edges and nodes list the same objects: export them once
        elif isinstance(value.get(key), dict):
            nested = value[key]
            moved += _flatten(
                named, field.selection_set, nested, parent_id=parent_id, lines=lines, fragments=fragments
            )
            nested.pop(PARENT_ID_ALIAS, None)
    value.pop(PARENT_ID_ALIAS, None)
    return moved


async def run_query_export(
    manager: BulkManager,
    operation: BulkOperation,
    prepared: PreparedRequest,
    context: ExecutionContext,
    *,
    group_objects: bool,
) -> None:
    """Execute the query over the whole shop, then write its JSONL at the configured rate."""
    from shopify_simulator.resolvers import execute_prepared

    await asyncio.sleep(0)
    operation.status = "RUNNING"
    export_context = manager.run_context(operation, context.base_url, bulk_query=True)
    body = execute_prepared(_with_object_ids(prepared), export_context)
    if body.get("errors") or body.get("data") is None:
        logger.warning("bulk query %s failed: %s", operation.id, body.get("errors"))
        manager.finish(operation, [], failed=True)
        return
    lines, _roots = flatten_result(prepared, body["data"])
    del group_objects  # lines are always grouped: parent first, then its children (allowed either way)
    rate = manager.options.bulk_query_rate or manager.options.bulk_rate
    started = asyncio.get_running_loop().time()
    results: list[bytes] = []
    for done, line in enumerate(lines):
        if operation.status == "CANCELING":
            break
        await manager.pace(started, done, rate)
        results.append(orjson.dumps(line))
        operation.object_count += 1
        if "__parentId" not in line:
            operation.root_object_count += 1
    manager.finish(operation, results, failed=False)
