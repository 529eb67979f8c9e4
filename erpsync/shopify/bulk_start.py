"""Getting a bulk operation going: stage its file, read the start reply, wait for a free slot.

"Busy" is read from the userError's `code` (LIMIT_REACHED, OPERATION_IN_PROGRESS) and, since shops
before 2026-01 answered with a message and no code, from the message too: "A bulk mutation operation
for this app and shop is already in progress: gid://…" (and the same for queries). Airbyte's
source-shopify (`shopify_graphql/bulk/job.py`) and Estuary's source-shopify-native
(`graphql/bulk_job_manager.py`) both recognise it by that text alone.
https://shopify.dev/docs/api/usage/bulk-operations/imports
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from erpsync.logs import get_logger
from erpsync.shopify import documents
from erpsync.shopify.bulk_files import BulkFile
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.errors import BulkLimitReached, BulkOperationError, ShopifyTransientError

log = get_logger("erpsync.shopify.bulk")

BUSY_CODES = frozenset({"LIMIT_REACHED", "OPERATION_IN_PROGRESS"})
BUSY_MESSAGE = re.compile(
    r"\bbulk (?:mutation |query )?operation for this app and shop is already in progress\b", re.IGNORECASE
)
MAX_SLOT_INTERVAL = 30.0
SLOT_WAIT_LIMIT = 6 * 3600.0  # seconds to wait for a free bulk slot before giving up

Started = TypeVar("Started")


async def stage_file(client: ShopifyClient, file: BulkFile) -> str:
    """Upload a variables file to a staged target; return the `stagedUploadPath` (the `key` parameter)."""
    data = await client.execute(
        documents.STAGED_UPLOADS_CREATE,
        {
            "input": [
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": file.path.name,
                    "mimeType": "text/jsonl",
                    "httpMethod": "POST",  # the schema's default is PUT
                }
            ]
        },
        retry_mutation=True,  # creating a target has no side effect worth guarding
    )
    payload = data["stagedUploadsCreate"]
    if payload.get("userErrors"):
        raise BulkOperationError(
            f"staged upload refused: {payload['userErrors']}", operation="stagedUploadsCreate"
        )
    target = payload["stagedTargets"][0]
    parameters = [(item["name"], item["value"]) for item in target["parameters"]]
    staged_path: str | None = next((str(value) for name, value in parameters if name == "key"), None)
    if staged_path is None:
        raise BulkOperationError(
            "staged upload target has no 'key' parameter", operation="stagedUploadsCreate"
        )
    attempt = 0
    while True:
        attempt += 1
        try:
            await _post_multipart(client.session, target["url"], parameters, file)
            return staged_path
        except ShopifyTransientError as exc:
            if attempt > client.target.max_retries:
                raise
            log.warning("staged upload retried", file=file.path.name, attempt=attempt, error=str(exc))
            await asyncio.sleep(
                min(client.target.retry_max_delay, client.target.retry_base_delay * 2**attempt)
            )


async def _post_multipart(
    session: aiohttp.ClientSession, url: str, parameters: list[tuple[str, str]], file: BulkFile
) -> None:
    """Every parameter as a form field in the order given, then the file last in `file`."""
    with file.path.open("rb") as handle:
        form = aiohttp.FormData(quote_fields=False)
        for name, value in parameters:
            form.add_field(name, value)
        form.add_field("file", handle, filename=file.path.name, content_type="text/jsonl")
        try:
            async with session.post(url, data=form) as response:
                body = (await response.text(errors="replace"))[:300]
                if response.status >= 500 or response.status == 429:
                    raise ShopifyTransientError(
                        f"staged upload answered HTTP {response.status}",
                        operation="stagedUpload",
                        status=response.status,
                    )
                if not 200 <= response.status < 300:
                    raise BulkOperationError(
                        f"staged upload of {file.path.name} ({file.size:,} bytes) refused: HTTP {response.status} {body}",
                        operation="stagedUpload",
                        status=response.status,
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ShopifyTransientError(f"staged upload failed: {exc}", operation="stagedUpload") from exc


def is_busy(error: dict[str, Any]) -> bool:
    """A userError that means "every slot is taken, try later", by its code or, without one, its message."""
    code = error.get("code")
    if code is not None:
        return code in BUSY_CODES
    return BUSY_MESSAGE.search(str(error.get("message") or "")) is not None


def started_node(payload: dict[str, Any], operation: str) -> dict[str, Any]:
    """The `bulkOperation` of a start reply; `BulkLimitReached` when busy, `BulkOperationError` otherwise."""
    errors = [error for error in payload.get("userErrors") or [] if isinstance(error, dict)]
    if errors:
        code = errors[0].get("code")
        message = "; ".join(str(error.get("message")) for error in errors)
        kind = BulkLimitReached if any(is_busy(error) for error in errors) else BulkOperationError
        raise kind(f"bulk operation not started: {message}", code=code, operation=operation)
    node = payload.get("bulkOperation")
    if not isinstance(node, dict):
        raise BulkOperationError("bulk operation not started and no reason given", operation=operation)
    return node


async def wait_for_slot(start: Callable[[], Awaitable[Started]], client: ShopifyClient) -> Started:
    """Call `start` until a bulk slot is free (busy, by code or by message, means: later)."""
    deadline = time.monotonic() + SLOT_WAIT_LIMIT
    delay = client.target.poll_interval
    while True:
        try:
            return await start()
        except BulkLimitReached as busy:
            if time.monotonic() + delay > deadline:
                raise
            log.info("waiting for a free bulk operation slot", delay=round(delay, 1), code=busy.code)
            await asyncio.sleep(delay)
            delay = min(MAX_SLOT_INTERVAL, delay * 1.5)
