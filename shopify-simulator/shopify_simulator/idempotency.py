"""The ``@idempotent(key:)`` directive of the inventory mutations: a request sent again is answered once.

Shopify's rules (https://shopify.dev/docs/api/usage/implementing-idempotency): the same key with the same
mutation variables is a duplicate — the original result is returned and nothing changes a second time; the
same key with other variables is refused (``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``); a key whose first
request failed is refused too (``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED``: "Retry with a new idempotency key",
InventorySetQuantitiesUserErrorCode, 2026-10). The directive is optional from 2026-01 and required from
2026-04 for inventorySetQuantities, inventoryAdjustQuantities, inventoryMoveQuantities and others: "calling
these mutations without an idempotency directive will result in an error at runtime", although "the
idempotency directive doesn't show up as mandatory at the schema level"
(https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations).
A merchant reported 2026-04 accepting calls without it
(https://community.shopify.dev/t/idempotency-directive-not-required-or-preventing-duplicate-inventoryadjustquantities-requests/28236),
so ``SimulatorOptions.missing_idempotency_key`` says which reading the simulator follows; the error's text
and code are unconfirmed. Keys are kept in memory for the simulator's life (Shopify keeps them 24 h).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from graphql import GraphQLError, get_directive_values

from shopify_simulator.connections import View
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.schema import load_schema

REQUIRED_FROM = "2026-04"
MISSING_KEY_MESSAGE = "The @idempotent directive with a key is required for this mutation."


def idempotency_key(info: ResolveInfo) -> str | None:
    """The key of the field's ``@idempotent`` directive (a literal or a variable), if it has one."""
    directive = load_schema().get_directive("idempotent")
    if directive is None:
        return None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return None if values is None else str(values["key"])


def _refusal(code: str, message: str) -> View:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"field": None, "message": message, "code": code}],
    }


def answered_once(info: ResolveInfo, arguments: dict[str, Any], run: Callable[[], View]) -> View:
    """Run the mutation once per idempotency key; a duplicate gets the first answer, a changed one a refusal."""
    context: ExecutionContext = info.context
    key = idempotency_key(info)
    if key is None:
        if context.options.missing_idempotency_key == "error" and context.api_version >= REQUIRED_FROM:
            raise GraphQLError(MISSING_KEY_MESSAGE, extensions={"code": "BAD_REQUEST"})
        return run()
    fingerprint = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    scoped = f"{info.field_name}/{key}"
    known = context.state.idempotency_keys.get(scoped)
    if known is not None:
        if known["fingerprint"] != fingerprint:
            return _refusal(
                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                "The same idempotency key cannot be used with different operation parameters.",
            )
        if known["failed"]:
            return _refusal(
                "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
                "A previous request with this idempotency key failed. Retry with a new idempotency key.",
            )
        context.stats.idempotent_replays += 1
        payload: View = known["payload"]
        return payload
    payload = run()
    context.state.idempotency_keys[scoped] = {
        "fingerprint": fingerprint,
        "failed": bool(payload.get("userErrors")),
        "payload": payload,
    }
    return payload
