"""Every document erpsync sends, and the variables it builds for them, hold against the 2026-10 schema."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from erpsync.shopify import documents
from shopify_simulator.schema import load_schema


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return load_schema()


def coerce(schema: GraphQLSchema, text: str, variables: dict[str, Any]) -> list[str]:
    operation = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
    result = get_variable_values(schema, operation.variable_definitions or [], variables)
    return [error.message for error in result] if isinstance(result, list) else []


@pytest.mark.parametrize("document", documents.ALL_DOCUMENTS, ids=lambda d: d.name)
def test_document_is_valid(schema: GraphQLSchema, document: documents.Document) -> None:
    """A document with a misspelt field would fail every sync; each one validates."""
    assert validate(schema, parse(document.text)) == []


def test_export_query_is_valid(schema: GraphQLSchema) -> None:
    """The adoption export validates as a query document."""
    assert validate(schema, parse(documents.PRODUCT_EXPORT_QUERY)) == []


VARIABLES = [
    (
        documents.STAGED_UPLOADS_CREATE,
        {
            "input": [
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": "a.jsonl",
                    "mimeType": "text/jsonl",
                    "httpMethod": "POST",
                }
            ]
        },
    ),
    (
        documents.BULK_OPERATION_RUN_MUTATION,
        {"mutation": "m", "stagedUploadPath": "tmp/x", "clientIdentifier": None},
    ),
    (
        documents.BULK_OPERATION_RUN_QUERY,
        {"query": "{ products { edges { node { id } } } }", "groupObjects": True},
    ),
    (documents.BULK_OPERATION, {"id": "gid://shopify/BulkOperation/1"}),
    (documents.PRODUCT_DELETE_BULK, {"input": {"id": "gid://shopify/Product/1"}}),
    (
        documents.INVENTORY_SET_QUANTITIES_BULK,
        {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": "gid://shopify/InventoryItem/1",
                        "locationId": "gid://shopify/Location/1",
                        "quantity": 4,
                        "changeFromQuantity": 7,
                    }
                ],
            },
            "idempotencyKey": "8e6c1f0a-2b1d-5e8f-9a3c-4d5e6f7a8b9c",
        },
    ),
    (
        documents.INVENTORY_LEVELS,
        {"ids": ["gid://shopify/ProductVariant/1"], "location": "gid://shopify/Location/1"},
    ),
    (
        documents.PRODUCT_SET_BULK,
        {
            "identifier": {"handle": "acme-tee"},
            "input": {
                "handle": "acme-tee",
                "title": "ACME Tee",
                "status": "ACTIVE",
                "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
                "variants": [
                    {"optionValues": [{"optionName": "Size", "name": "S"}], "sku": "TEE-S", "price": "19.90"}
                ],
            },
        },
    ),
]


@pytest.mark.parametrize(("document", "variables"), VARIABLES, ids=lambda v: getattr(v, "name", ""))
def test_variables_coerce(
    schema: GraphQLSchema, document: documents.Document, variables: dict[str, Any]
) -> None:
    """The variables erpsync builds are accepted by the schema's input types."""
    assert coerce(schema, document.text, variables) == []


def test_variant_without_option_values_is_refused(schema: GraphQLSchema) -> None:
    """The check is real: a variant missing its non-null optionValues fails coercion."""
    bad = {"input": {"title": "x", "variants": [{"sku": "A"}]}}
    assert coerce(schema, documents.PRODUCT_SET_BULK.text, bad)
