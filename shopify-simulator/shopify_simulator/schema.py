"""Shopify's real Admin schema, and the checks every incoming document and variables object must pass.

The committed SDL (``schema.graphql``, written by ``scripts/trim_schema.py`` from the published 2026-10
introspection) is loaded once per process. A request is parsed, validated and its variables coerced
against it before anything runs; a failure answers the error shape Shopify's GraphQL server
(graphql-ruby) answers, and nothing happens. https://shopify.dev/docs/api/admin-graphql
"""

from __future__ import annotations

import decimal
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    build_schema,
    is_input_type,
    parse,
    print_ast,
    validate,
)
from graphql.utilities import type_from_ast
from graphql.utilities.validate_input_value import validate_input_value

from shopify_simulator.state import parse_datetime

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
SCHEMA_VERSION = "2026-10"

ErrorBody = dict[str, Any]


@functools.cache
def load_schema() -> GraphQLSchema:
    """Build the schema from the committed SDL, once per process (it takes about two seconds)."""
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"), assume_valid=True)
    _install_scalar_checks(schema)
    return schema


def _coerce_decimal(value: Any) -> str:
    # Money and Decimal travel as decimal strings ("19.90"); Shopify also takes JSON numbers.
    # https://shopify.dev/docs/api/admin-graphql/latest/scalars/Money
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError(f"Could not coerce value {value!r} to a decimal")
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as error:
        raise GraphQLError(f"Could not coerce value {value!r} to a decimal") from error
    if not number.is_finite():
        raise GraphQLError(f"Could not coerce value {value!r} to a decimal")
    return str(value).strip()


def _coerce_datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"Could not coerce value {value!r} to DateTime")
    try:
        parse_datetime(value)
    except ValueError as error:
        raise GraphQLError(f"Could not coerce value {value!r} to DateTime") from error
    return value


def _coerce_unsigned(value: Any) -> str:
    # UnsignedInt64 travels as a string of digits. https://shopify.dev/docs/api/admin-graphql/latest/scalars/UnsignedInt64
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit() or int(text) >= 2**64:
        raise GraphQLError(f"Could not coerce value {value!r} to UnsignedInt64")
    return text


def _install_scalar_checks(schema: GraphQLSchema) -> None:
    """Give Shopify's custom scalars the input checks Shopify applies; SDL alone makes them accept anything."""
    checks = {
        "Money": _coerce_decimal,
        "Decimal": _coerce_decimal,
        "DateTime": _coerce_datetime,
        "UnsignedInt64": _coerce_unsigned,
    }
    for name, check in checks.items():
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            scalar.parse_value = check  # type: ignore[method-assign]
            scalar.coerce_input_value = check


@dataclass(frozen=True)
class PreparedRequest:
    """A parsed, validated document with the one operation to run and its raw variables."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]


class RequestRefused(Exception):
    """The document or its variables failed; ``errors`` are Shopify-shaped and go back as they are."""

    def __init__(self, errors: list[ErrorBody]) -> None:
        super().__init__(errors[0]["message"] if errors else "refused")
        self.errors = errors


def prepare_request(
    query: str, variables: dict[str, Any] | None, operation_name: str | None = None
) -> PreparedRequest:
    """Parse, validate, pick the operation and coerce the variables; raise ``RequestRefused`` on any failure."""
    prepared = prepare_document(query, operation_name)
    raw_variables = dict(variables or {})
    problems = coerce_variables(load_schema(), prepared.operation, raw_variables)
    if problems:
        raise RequestRefused(problems)
    return PreparedRequest(document=prepared.document, operation=prepared.operation, variables=raw_variables)


def prepare_document(query: str, operation_name: str | None = None) -> PreparedRequest:
    """Parse, validate and pick the operation, without variables (a bulk mutation gets them per line)."""
    try:
        document = parse(query)
    except GraphQLError as error:
        raise RequestRefused([_parse_error(error)]) from error
    errors = validate(load_schema(), document)
    if errors:
        raise RequestRefused([_validation_error(document, error) for error in errors])
    return PreparedRequest(
        document=document, operation=_select_operation(document, operation_name), variables={}
    )


def _select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if operation_name is not None:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation
        raise RequestRefused([{"message": f'No operation named "{operation_name}"'}])
    if len(operations) != 1:
        # graphql-ruby's wording when several operations arrive without operationName.
        raise RequestRefused([{"message": "An operation name is required"}])
    return operations[0]


def _location(node: Node | None) -> list[dict[str, int]]:
    if node is None or node.loc is None:
        return []
    source = node.loc.source
    line = source.body.count("\n", 0, node.loc.start) + 1
    column = node.loc.start - (source.body.rfind("\n", 0, node.loc.start) + 1) + 1
    return [{"line": line, "column": column}]


def _parse_error(error: GraphQLError) -> ErrorBody:
    locations = [{"line": place.line, "column": place.column} for place in error.locations or []]
    where = f" at [{locations[0]['line']}, {locations[0]['column']}]" if locations else ""
    detail = error.message.removeprefix("Syntax Error: ")
    return {"message": f"Parse error: {detail}{where}", "locations": locations}


# graphql-core's validation messages, mapped to the wording and extension codes graphql-ruby (Shopify's
# server) uses, so a client that reads them sees what Shopify would send.
_UNDEFINED_FIELD = re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'")
_UNKNOWN_ARGUMENT = re.compile(
    r"Unknown argument '(?P<argument>\w+)' on field '(?P<type>\w+)\.(?P<field>\w+)'"
)
_MISSING_ARGUMENT = re.compile(
    r"Argument '(?P<type>\w+)\.(?P<field>\w+)\((?P<argument>\w+):\)' of type '[^']+' is required"
)
_VARIABLE_MISMATCH = re.compile(
    r"Variable '\$(?P<variable>\w+)' of type '(?P<given>[^']+)' used in position expecting type '(?P<expected>[^']+)'"
)


def _ast_path(document: DocumentNode, target: Node | None) -> list[str]:
    """graphql-ruby's error ``path``: the operation (``query Name``) then the field names down to the node."""
    if target is None:
        return []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            head = definition.operation.value + (f" {definition.name.value}" if definition.name else "")
        else:
            name = getattr(getattr(definition, "name", None), "value", "")
            head = f"fragment {name}"
        found = _search_path(definition, target, [head])
        if found is not None:
            return found
    return []


def _search_path(node: Any, target: Node, prefix: list[str]) -> list[str] | None:
    if node is target:
        return prefix
    selection_set = getattr(node, "selection_set", None)
    for argument in getattr(node, "arguments", None) or ():
        if argument is target or argument.value is target:
            return [*prefix, argument.name.value]
    if selection_set is None:
        return None
    for selection in selection_set.selections:
        name = getattr(getattr(selection, "alias", None) or getattr(selection, "name", None), "value", None)
        step = [*prefix, name] if name and selection.kind == "field" else prefix
        if selection.kind == "inline_fragment":
            condition = selection.type_condition
            step = [*prefix, f"... on {condition.name.value}" if condition else "..."]
        found = _search_path(selection, target, step)
        if found is not None:
            return found
    return None


def _validation_error(document: DocumentNode, error: GraphQLError) -> ErrorBody:
    node = error.nodes[0] if error.nodes else None
    body: ErrorBody = {
        "message": error.message,
        "locations": [{"line": place.line, "column": place.column} for place in error.locations or []],
        "path": _ast_path(document, node),
    }
    if match := _UNDEFINED_FIELD.match(error.message):
        body["message"] = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        body["extensions"] = {
            "code": "undefinedField",
            "typeName": match["type"],
            "fieldName": match["field"],
        }
    elif match := _UNKNOWN_ARGUMENT.match(error.message):
        body["message"] = f"Field '{match['field']}' doesn't accept argument '{match['argument']}'"
        body["extensions"] = {
            "code": "argumentNotAccepted",
            "name": match["field"],
            "typeName": "Field",
            "argumentName": match["argument"],
        }
    elif match := _MISSING_ARGUMENT.match(error.message):
        body["message"] = f"Field '{match['field']}' is missing required arguments: {match['argument']}"
        body["extensions"] = {
            "code": "missingRequiredArguments",
            "className": "Field",
            "name": match["field"],
            "arguments": match["argument"],
        }
    elif match := _VARIABLE_MISMATCH.match(error.message):
        body["message"] = (
            f"Type mismatch on variable ${match['variable']} and argument "
            f"({match['given']} / {match['expected']})"
        )
        body["extensions"] = {"code": "variableMismatch", "variableName": match["variable"]}
    elif (
        node is not None and "cannot represent" in error.message
    ) or "Expected value of type" in error.message:
        argument = body["path"][-1] if body["path"] else "?"
        shown = print_ast(node) if node is not None else "?"
        expected = re.search(r"^(\w+) cannot represent|Expected value of type '(\w+)'", error.message)
        type_name = (expected[1] or expected[2]) if expected else "?"
        body["message"] = (
            f"Argument '{argument}' on Field '{body['path'][-2] if len(body['path']) > 1 else '?'}' "
            f"has an invalid value ({shown}). Expected type '{type_name}'."
        )
        body["extensions"] = {
            "code": "argumentLiteralsIncompatible",
            "typeName": "Field",
            "argumentName": argument,
        }
    return body


_REQUIRED_FIELD = re.compile(r"to include required field '(?P<field>\w+)'")
_UNKNOWN_FIELD = re.compile(r"not to include unknown field '(?P<field>\w+)'")


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> list[ErrorBody]:
    """Check every declared variable against its type; one Shopify-shaped error per invalid variable.

    Shape (https://shopify.dev/docs/api/usage/bulk-operations/imports): ``Variable input of type
    ProductInput! was provided invalid value for myfavoriteaddress (Field is not defined on ProductInput)``
    with ``extensions.value`` and ``extensions.problems [{path, explanation}]``.
    """
    errors: list[ErrorBody] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        variable_type = type_from_ast(schema, definition.type)
        if not is_input_type(variable_type):  # validation has refused unknown types already
            continue
        if name not in variables and definition.default_value is not None:
            continue
        value = variables.get(name)
        problems: list[dict[str, Any]] = []

        def on_error(
            error: GraphQLError, path: list[str | int], problems: list[dict[str, Any]] = problems
        ) -> None:
            problems.append(_problem(error.message, path))

        if name not in variables and not _is_non_null(definition):
            continue
        validate_input_value(value, variable_type, on_error, hide_suggestions=True)
        if problems:
            where = ", ".join(".".join(str(step) for step in problem["path"]) for problem in problems)
            why = "; ".join(problem["explanation"] for problem in problems)
            message = f"Variable {name} of type {print_ast(definition.type)} was provided invalid value"
            if where:
                message += f" for {where}"
            errors.append(
                {
                    "message": f"{message} ({why})",
                    "locations": _location(definition),
                    "extensions": {"value": value, "problems": problems},
                }
            )
    return errors


def _is_non_null(definition: Any) -> bool:
    return bool(definition.type.kind == "non_null_type")


def _problem(message: str, path: list[str | int]) -> dict[str, Any]:
    """Turn a graphql-core input error into graphql-ruby's ``{path, explanation}``."""
    if match := _REQUIRED_FIELD.search(message):
        return {"path": [*path, match["field"]], "explanation": "Expected value to not be null"}
    if match := _UNKNOWN_FIELD.search(message):
        owner = re.search(r"Expected value of type '(?P<type>\w+)'", message)
        type_name = owner["type"] if owner else "input"
        return {"path": [*path, match["field"]], "explanation": f"Field is not defined on {type_name}"}
    if "non-null type" in message:
        return {"path": path, "explanation": "Expected value to not be null"}
    return {"path": path, "explanation": message}


def format_execution_error(error: GraphQLError) -> ErrorBody:
    """An error raised while executing, in Shopify's shape (``message``, ``locations``, ``path``, ``extensions``)."""
    body: ErrorBody = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": place.line, "column": place.column} for place in error.locations]
    if error.path:
        body["path"] = list(error.path)
    if error.extensions:
        body["extensions"] = dict(error.extensions)
    return body
