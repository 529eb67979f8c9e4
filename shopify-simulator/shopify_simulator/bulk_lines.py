"""A bulk mutation's lines: the uploaded JSONL split into lines, each run as its own request, one result
line each, and the transient line errors a test can inject.

JSONL lines end at ``\\n`` only (https://jsonlines.org/: "the line separator is '\\n'"); ``str.splitlines``
also breaks at U+2028, U+2029, U+0085 and other separators that JSON strings may hold raw (orjson writes
them so), which shifted every following line onto the wrong variables (contract evidence, finding 2).
The ``jsonl_split="splitlines"`` option keeps that behaviour so a client's line checks can be tested.

A real result file can answer one line with a top-level ``errors`` entry, its ``__lineNumber`` and a null
payload — "This product is currently being modified. Please try again later.",
``TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT`` (contract evidence, finding 1: the BCApps fixture
``BulkOperationResult.txt``); ``Faults.line_errors`` injects that shape, before or after the line's write.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from graphql import FieldNode, get_location

from shopify_simulator.context import ExecutionContext
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.schema import PreparedRequest, coerce_variables, load_schema
from shopify_simulator.state import BulkOperation, ShopState

if TYPE_CHECKING:
    from shopify_simulator.bulk import BulkManager


def split_jsonl(text: str, options: SimulatorOptions) -> list[str]:
    """The file's lines: at ``\\n`` only, or as ``str.splitlines`` would (the option, for tests)."""
    if options.jsonl_split == "splitlines":
        return text.splitlines()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def line_skus(variables: Any, state: ShopState | None = None) -> set[str]:
    """The SKUs a line's variables carry (``input.variants[].sku``; for a variant update, the SKUs of the
    variants it names by id), for the SKU-matched line faults."""
    if not isinstance(variables, dict):
        return set()
    if "productId" in variables and state is not None:
        named = (
            state.find_variant(str(v.get("id")))
            for v in variables.get("variants") or []
            if isinstance(v, dict)
        )
        return {variant.sku for variant in named if variant is not None and variant.sku}
    product_input = variables.get("input")
    variants = product_input.get("variants") if isinstance(product_input, dict) else None
    return {
        str(variant["sku"]) for variant in variants or [] if isinstance(variant, dict) and variant.get("sku")
    }


def line_error(prepared: PreparedRequest, code: str | None, message: str) -> dict[str, Any]:
    """The recorded shape: the error with its location and path, and the root field's payload null."""
    field = next(node for node in prepared.operation.selection_set.selections if isinstance(node, FieldNode))
    name = field.name.value
    error: dict[str, Any] = {"message": message}
    if field.loc is not None:
        location = get_location(field.loc.source, field.loc.start)
        error["locations"] = [{"line": location.line, "column": location.column}]
    error["path"] = [name]
    if code is not None:
        error["extensions"] = {"code": code}
    if code == "INTERNAL_SERVER_ERROR":  # recorded with the request id (see stats.LINE_ERROR_MESSAGES)
        error["extensions"]["requestId"] = str(uuid.uuid4())
    return {"errors": [error], "data": {name: None}}


def run_line(prepared: PreparedRequest, variables: Any, context: ExecutionContext) -> dict[str, Any]:
    """One JSONL line as one request; variable errors are this line's top-level errors."""
    from shopify_simulator.resolvers import execute_prepared

    if not isinstance(variables, dict):
        return {"errors": [{"message": "Each line must be a JSON object of variables."}]}
    problems = coerce_variables(load_schema(), prepared.operation, variables)
    if problems:
        return {"errors": problems}
    line_request = PreparedRequest(
        document=prepared.document, operation=prepared.operation, variables=variables
    )
    return execute_prepared(line_request, context)


def answer_line(prepared: PreparedRequest, line: str, context: ExecutionContext) -> dict[str, Any]:
    """The result of one line, or an injected transient error (before or after the line's write)."""
    try:
        variables = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return {"errors": [{"message": f"Invalid JSON on this line: {error}"}]}
    fault = context.faults.line_errors
    root = next(node for node in prepared.operation.selection_set.selections if isinstance(node, FieldNode))
    if fault is None or not fault.take(line_skus(variables, context.state), root.name.value):
        return run_line(prepared, variables, context)
    context.stats.bulk_line_errors += 1
    if fault.written:
        run_line(prepared, variables, context)  # written, but the answer says it was not
    return line_error(prepared, fault.code, fault.message)


async def run_mutation_lines(
    manager: BulkManager,
    operation: BulkOperation,
    *,
    prepared: PreparedRequest,
    lines: list[str],
    context: ExecutionContext,
    fail_after: int | None,
) -> None:
    """Run every non-empty line at ``bulk_rate``, in shuffled order unless told otherwise."""
    await asyncio.sleep(0)
    operation.status = "RUNNING"
    line_context = manager.run_context(operation, context.base_url, bulk_mutation=True)
    order = [index for index, line in enumerate(lines) if line.strip()]
    if manager.options.bulk_shuffle_lines:
        # "lines are not processed in order". https://shopify.dev/docs/api/usage/bulk-operations/imports
        manager.random.shuffle(order)
    results: list[bytes] = []
    started = asyncio.get_running_loop().time()
    failed = False
    for done, index in enumerate(order):
        if operation.status == "CANCELING":
            break
        if fail_after is not None and done >= fail_after:
            failed = True
            break
        await manager.pace(started, done, manager.options.bulk_rate)
        if operation.status == "CANCELING":
            break
        body = answer_line(prepared, lines[index], line_context)
        body["__lineNumber"] = index
        results.append(orjson.dumps(body))
        operation.object_count += 1
        operation.root_object_count += 1
        manager.stats.bulk_lines += 1
    manager.finish(operation, results, failed=failed)
