"""How many bulk operations may run at once, and how each one ends (its final status and files).

Concurrency from 2026-01 is five operations per shop: one shared pool (``bulk_concurrency_shared``, the
changelog's "up to five bulk operations per shop") or five of each type (the imports and queries guides'
"five bulk mutation operations" and "five bulk query operations"; see ``options.py``). Before 2026-01,
one of each type. https://shopify.dev/changelog/faster-bulk-operations

Endings, as recorded from real shops (``shared/docs/shopify-contract-evidence.md`` finding 7):
- ``FAILED`` keeps what ran in ``partialDataUrl`` with an ``errorCode`` (``TIMEOUT``, ``ACCESS_DENIED``,
  ``INTERNAL_SERVER_ERROR``, the ``BulkOperationErrorCode`` values of the schema);
- ``CANCELED`` can still carry a ``url`` holding the lines that ran before the cancel (Airbyte's
  source-shopify tests, ``with_canceled_status``, and its checkpointing depends on it);
- ``EXPIRED``: the operation ran past its time and its results are gone: no ``url``, no error code.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal

from shopify_simulator.state import BulkOperation, ShopState, utc_now

RESULT_PATH_PREFIX = "/_files/bulk/"
ACTIVE_STATUSES = frozenset({"CREATED", "RUNNING", "CANCELING"})
EXPORT_ERROR_CODES = frozenset({"TIMEOUT", "ACCESS_DENIED", "INTERNAL_SERVER_ERROR"})
StopStatus = Literal["FAILED", "CANCELED", "EXPIRED"]


def finish(
    state: ShopState,
    operation: BulkOperation,
    results: list[bytes],
    *,
    stopped: StopStatus | None,
    error_code: str | None = None,
) -> None:
    """Store the result file and set the final status: ``stopped`` says how an interrupted one ends."""
    name = f"{uuid.uuid4()}.jsonl"
    path: str | None = None
    if results and stopped != "EXPIRED":
        state.result_files[name] = b"\n".join(results) + b"\n"
        path = f"{RESULT_PATH_PREFIX}{name}"
        operation.file_size = len(state.result_files[name])
    if stopped == "FAILED":
        # Only system errors fail the whole operation; what ran is in partialDataUrl.
        # https://shopify.dev/docs/api/usage/bulk-operations/queries
        operation.status = "FAILED"
        operation.error_code = error_code or "INTERNAL_SERVER_ERROR"
        operation.partial_result_path = path
        operation.completed_at = utc_now()
    elif stopped == "EXPIRED":
        operation.status = "EXPIRED"
    elif stopped == "CANCELED" or operation.status == "CANCELING":
        operation.status = "CANCELED"
        operation.result_path = path
        operation.completed_at = utc_now()
    else:
        operation.status = "COMPLETED"
        operation.result_path = path
        operation.completed_at = utc_now()


async def fail_export(state: ShopState, operation: BulkOperation, error_code: str) -> None:
    """An export that Shopify stops with ``error_code`` before it wrote anything."""
    await asyncio.sleep(0)
    operation.status = "RUNNING"
    await asyncio.sleep(0.01)
    finish(state, operation, [], stopped="FAILED", error_code=error_code)
