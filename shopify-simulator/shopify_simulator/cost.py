"""Calculated query cost, by Shopify's documented rules, before execution (requested) and after (actual).

Scalars and enums cost 0, objects 1, a connection 2 plus its page size times the cost of one node,
a mutation 10; ``productSet`` adds 0.2 per variant, 0.4 per metafield, 1.9 per file, 0.6 per variant file.
https://shopify.dev/docs/api/usage/limits ·
https://shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from shopify_simulator.schema import PreparedRequest

MUTATION_COST = 10
# Costs Shopify documents for particular fields (examples from the bulk import guide).
# https://shopify.dev/docs/api/usage/bulk-operations/imports
DEFINED_MUTATION_COSTS = {"stagedUploadsCreate": 11}
CONNECTION_BASE_COST = 2


def _fragments(prepared: PreparedRequest) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in prepared.document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """Every field of a selection set, fragments flattened (the maximum of possible selections)."""
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _fields(fragments[selection.name.value].selection_set, fragments)


def is_connection(named: GraphQLNamedType) -> bool:
    """A Relay connection type (``...Connection`` with ``edges``)."""
    return (
        isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") and "edges" in named.fields
    )


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        definition: GraphQLField | None = parent.fields.get(name)
        return definition
    return None


def _node_selections(
    field: FieldNode, connection_type: GraphQLObjectType, fragments: dict[str, FragmentDefinitionNode]
) -> list[tuple[GraphQLNamedType, SelectionSetNode | None, str, bool]]:
    """The node selection sets inside a connection: ``edges { node {...} }`` and ``nodes {...}``."""
    found: list[tuple[GraphQLNamedType, SelectionSetNode | None, str, bool]] = []
    for child in _fields(field.selection_set, fragments):
        key = (child.alias or child.name).value
        if child.name.value == "nodes":
            found.append(
                (get_named_type(connection_type.fields["nodes"].type), child.selection_set, key, False)
            )
        elif child.name.value == "edges":
            edge_type = get_named_type(connection_type.fields["edges"].type)
            assert isinstance(edge_type, GraphQLObjectType)
            for grandchild in _fields(child.selection_set, fragments):
                if grandchild.name.value == "node":
                    node_key = (grandchild.alias or grandchild.name).value
                    found.append(
                        (
                            get_named_type(edge_type.fields["node"].type),
                            grandchild.selection_set,
                            f"{key}.{node_key}",
                            True,
                        )
                    )
    return found


class CostCalculator:
    """Computes requested and actual costs for one prepared request."""

    def __init__(self, schema: GraphQLSchema, prepared: PreparedRequest) -> None:
        self.schema = schema
        self.prepared = prepared
        self.fragments = _fragments(prepared)
        self.variables = self._coerced_variables()

    def _coerced_variables(self) -> VariableValues | None:
        result = get_variable_values(
            self.schema, self.prepared.operation.variable_definitions or (), self.prepared.variables
        )
        return result if isinstance(result, VariableValues) else None

    def _arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        try:
            return get_argument_values(definition, node, self.variables)
        except GraphQLError:  # an argument that cannot be read costs what its absence costs
            return {}

    def requested(self) -> int:
        """The requested cost, refused above the maximum before anything runs."""
        return math.ceil(self._operation_cost(data=None))

    def actual(self, data: dict[str, Any] | None) -> int:
        """The actual cost from what was returned (connections sized by the nodes they returned)."""
        if data is None:
            return 0
        return math.ceil(self._operation_cost(data=data))

    def _operation_cost(self, data: dict[str, Any] | None) -> float:
        operation: OperationDefinitionNode = self.prepared.operation
        root = (
            self.schema.mutation_type if operation.operation.value == "mutation" else self.schema.query_type
        )
        assert root is not None
        if operation.operation.value == "mutation":
            total = 0.0
            for field in _fields(operation.selection_set, self.fragments):
                definition = root.fields.get(field.name.value)
                if definition is None:
                    continue
                key = (field.alias or field.name).value
                if data is not None and data.get(key) is None:
                    continue
                total += DEFINED_MUTATION_COSTS.get(field.name.value, MUTATION_COST)
                if field.name.value == "productSet":
                    total += product_set_cost(self._arguments(definition, field).get("input") or {})
            return total
        return self._selection_cost(root, operation.selection_set, data)

    def _selection_cost(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None, data: Any
    ) -> float:
        total = 0.0
        for field in _fields(selection_set, self.fragments):
            definition = _field_definition(parent, field.name.value)
            if definition is None:  # __typename and friends
                continue
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            key = (field.alias or field.name).value
            value = data.get(key) if isinstance(data, dict) else None
            if data is not None and value is None:
                continue
            if is_connection(named):
                assert isinstance(named, GraphQLObjectType)
                total += self._connection_cost(definition, field, named, value)
            elif data is not None and isinstance(value, list):
                total += 1 + max(
                    (self._selection_cost(named, field.selection_set, item) for item in value), default=0
                )
            else:
                total += 1 + self._selection_cost(named, field.selection_set, value)
        return total

    def _connection_cost(
        self, definition: GraphQLField, field: FieldNode, named: GraphQLObjectType, value: Any
    ) -> float:
        node_selections = _node_selections(field, named, self.fragments)
        if value is None:
            arguments = self._arguments(definition, field)
            size = arguments.get("first") or arguments.get("last") or 0
            per_node = max(
                (
                    1 + self._selection_cost(node_type, selection, None)
                    for node_type, selection, _key, _edge in node_selections
                ),
                default=1,
            )
            return CONNECTION_BASE_COST + size * per_node
        nodes: list[Any] = []
        for _node_type, _selection, key, through_edges in node_selections:
            if through_edges:
                edges_key, node_key = key.split(".", 1)
                nodes = [edge.get(node_key) for edge in value.get(edges_key) or [] if isinstance(edge, dict)]
            else:
                nodes = list(value.get(key) or [])
            if nodes:
                break
        if not node_selections:
            return CONNECTION_BASE_COST
        node_type, selection, _key, _edge = node_selections[0]
        return CONNECTION_BASE_COST + sum(
            1 + self._selection_cost(node_type, selection, node) for node in nodes
        )


def product_set_cost(product_input: dict[str, Any]) -> float:
    """productSet's dynamic part. https://shopify.dev/changelog/dynamic-complexity-cost-for-productset-mutation"""
    variants = product_input.get("variants") or []
    return (
        0.2 * len(variants)
        + 0.6 * sum(1 for variant in variants if variant.get("file"))
        + 0.4 * sum(len(variant.get("metafields") or []) for variant in variants)
        + 0.4 * len(product_input.get("metafields") or [])
        + 1.9 * len(product_input.get("files") or [])
    )
