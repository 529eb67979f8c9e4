"""The reply to a bulk start when every slot is taken, by code or, as shops answered before 2026-01, by message.

Before 2026-01 one operation of each type runs at a time; from 2026-01 ``bulk_concurrency`` at once, in one
shared pool or per type (``bulk_concurrency_shared``). https://shopify.dev/changelog/faster-bulk-operations
The "message" shape (``bulk_busy_shape``) is the recorded pre-2026-01 wording, which carries the id of the
running operation and no code; see the comment on the option for where it was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.state import BulkOperation

CONCURRENCY_CHANGE_VERSION = "2026-01"


def busy_error(
    active: Sequence[BulkOperation], options: SimulatorOptions, api_version: str, operation_type: str
) -> dict[str, Any] | None:
    """The userError refusing a new ``operation_type`` operation while ``active`` run, or None if one may start."""
    same_type = [operation for operation in active if operation.type == operation_type]
    kind = "mutation" if operation_type == "MUTATION" else "query"
    if api_version < CONCURRENCY_CHANGE_VERSION:
        if not same_type:
            return None
        wording = f"A bulk {kind} operation for this app and shop is already in progress."
        return _refusal(options, kind, same_type[-1], wording, "OPERATION_IN_PROGRESS")
    counted = list(active) if options.bulk_concurrency_shared else same_type
    if len(counted) < options.bulk_concurrency:
        return None
    wording = f"A maximum of {options.bulk_concurrency} bulk operations can run at the same time."
    return _refusal(options, kind, (same_type or counted)[-1], wording, options.bulk_limit_error_code)


def _refusal(
    options: SimulatorOptions, kind: str, running: BulkOperation, wording: str, code: str
) -> dict[str, Any]:
    if options.bulk_busy_shape == "message":
        message = f"A bulk {kind} operation for this app and shop is already in progress: {running.id}."
        return {"field": None, "message": message, "code": None}
    return {"field": None, "message": wording, "code": code}
