"""The envelope of a GraphQL reply: `extensions.cost`, and the THROTTLED and MAX_COST_EXCEEDED bodies.

Each shape real shops have been recorded sending is an option (``options.py``, "reply shapes"), so that a
client can be run against every one of them. https://shopify.dev/docs/api/usage/limits
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.throttle import LeakyBucket

THROTTLED_DOCUMENTATION = "https://shopify.dev/api/usage/limits#rate-limits"
MAX_COST_DOCUMENTATION = "https://shopify.dev/api/usage/limits#rate-limits"


def reply_extensions(
    bucket: LeakyBucket,
    options: SimulatorOptions,
    requested: int,
    actual: int | None,
    *,
    error: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Top-level ``extensions`` of one reply (None: the reply has none), as ``throttle_status`` says."""
    first = bucket.count_reply()
    mode = options.throttle_status
    if error and mode == "not_on_errors":
        return None
    cost: dict[str, Any] = {"requestedQueryCost": requested, "actualQueryCost": actual}
    if mode in ("always", "not_on_errors") or (mode == "not_on_first" and not first):
        cost["throttleStatus"] = bucket.status()
    return {"cost": cost, **(extra or {})}


def with_extensions(body: dict[str, Any], extensions: dict[str, Any] | None) -> dict[str, Any]:
    """``body`` with its ``extensions`` member, or without one."""
    return {**body, "extensions": extensions} if extensions is not None else body


def max_cost_error(requested: int, maximum: int) -> dict[str, Any]:
    """The MAX_COST_EXCEEDED error, as Shopify words it."""
    return {
        "message": f"Query cost is {requested}, which exceeds the single query max cost limit ({maximum}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations "
        "should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api "
        "for usage details.\n",
        "extensions": {
            "code": "MAX_COST_EXCEEDED",
            "cost": requested,
            "maxCost": maximum,
            "documentation": MAX_COST_DOCUMENTATION,
        },
    }


def throttled_response(
    options: SimulatorOptions, extensions: dict[str, Any] | None, headers: dict[str, str]
) -> web.Response:
    """The THROTTLED reply in the shape, status and headers the options ask for."""
    headers = dict(headers)
    if options.throttled_retry_after is not None:
        headers["Retry-After"] = f"{options.throttled_retry_after:g}"
    status = options.throttled_http_status
    if options.throttled_shape == "empty":
        return web.Response(status=status, headers=headers)
    error: dict[str, Any] = {"message": "Throttled"}
    if options.throttled_shape == "code":
        error["extensions"] = {"code": "THROTTLED", "documentation": THROTTLED_DOCUMENTATION}
    body = with_extensions({"errors": [error]}, extensions)
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
