"""Bulk mutations: stage the JSONL, run it, poll it, and join every result line back to its key.

The operation id reaches the caller (`on_started`) before any wait, so a run that dies can resume the
operation by id instead of submitting it again. Results are streamed; a FAILED operation's
`partialDataUrl` is read and every line it does not mention is reported as unknown. Staging a file and
starting an operation (busy by code or by message) live in `bulk_start.py`.
https://shopify.dev/docs/api/usage/bulk-operations/imports
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import orjson

from erpsync.errors import first_error
from erpsync.logs import get_logger
from erpsync.metrics import BULK_SECONDS
from erpsync.shopify import documents, lifecycle
from erpsync.shopify.bulk_files import BulkFile, KeyIndex
from erpsync.shopify.bulk_start import stage_file, started_node
from erpsync.shopify.bulk_start import wait_for_slot as wait_for_slot  # noqa: PLC0414 - export.py imports it here
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.documents import Document
from erpsync.shopify.errors import (
    BulkOperationError,
    ShopifyTransientError,
)
from erpsync.shopify.lifecycle import ending_line, read_operation_node

log = get_logger("erpsync.shopify.bulk")

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
MAX_POLL_INTERVAL = 30.0
OUTCOME_BATCH = 500
DOWNLOAD_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class BulkOperation:
    id: str
    status: str
    type: str = "MUTATION"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None

    @classmethod
    def from_graphql(cls, node: dict[str, Any]) -> BulkOperation:
        # The counts are UnsignedInt64, serialized as strings ("16").
        return cls(
            id=node["id"],
            status=node["status"],
            type=node.get("type") or "MUTATION",
            error_code=node.get("errorCode"),
            object_count=int(node.get("objectCount") or 0),
            root_object_count=int(node.get("rootObjectCount") or 0),
            file_size=int(node["fileSize"]) if node.get("fileSize") else None,
            url=node.get("url"),
            partial_data_url=node.get("partialDataUrl"),
        )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


OutcomeStatus = Literal["ok", "user_errors", "errors", "unknown"]


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """What became of one input line: its key, Shopify's payload, and its userErrors or errors."""

    key: str
    line_number: int
    status: OutcomeStatus
    payload: dict[str, Any] | None = None
    errors: tuple[dict[str, Any], ...] = ()

    @property
    def message(self) -> str:
        return "; ".join(
            f"{'.'.join(str(p) for p in error.get('field') or []) or '-'}: {error.get('message')}"
            if error.get("field")
            else str(error.get("message"))
            for error in self.errors
        )


@dataclass
class BulkResult:
    file: BulkFile
    operation: BulkOperation
    counts: dict[str, int] = field(default_factory=dict)


StartedCallback = Callable[[BulkFile, str], Awaitable[None]]
OutcomesCallback = Callable[[BulkFile, list[LineOutcome]], Awaitable[None]]
ProgressCallback = Callable[[BulkOperation], Awaitable[None]]


def bulk_slots(api_version: str) -> int:
    """Five bulk operations at once from 2026-01, one of each type before.
    https://shopify.dev/changelog/faster-bulk-operations"""
    return 5 if api_version >= "2026-01" else 1


async def start_mutation(
    client: ShopifyClient, document: Document, staged_path: str, *, client_identifier: str | None = None
) -> BulkOperation:
    """`bulkOperationRunMutation`; `BulkLimitReached` when every slot is busy."""
    data = await client.execute(
        documents.BULK_OPERATION_RUN_MUTATION,
        {"mutation": document.text, "stagedUploadPath": staged_path, "clientIdentifier": client_identifier},
    )
    return BulkOperation.from_graphql(
        started_node(data["bulkOperationRunMutation"], "bulkOperationRunMutation")
    )


async def start_query(client: ShopifyClient, query: str, *, group_objects: bool = True) -> BulkOperation:
    """`bulkOperationRunQuery`; `BulkLimitReached` when every slot is busy."""
    data = await client.execute(
        documents.BULK_OPERATION_RUN_QUERY, {"query": query, "groupObjects": group_objects}
    )
    return BulkOperation.from_graphql(started_node(data["bulkOperationRunQuery"], "bulkOperationRunQuery"))


async def get_operation(client: ShopifyClient, operation_id: str) -> BulkOperation:
    """The operation now, read the way the configured API version can (`lifecycle.py`)."""
    return BulkOperation.from_graphql(await read_operation_node(client, operation_id))


async def wait_for_operation(
    client: ShopifyClient, operation_id: str, *, on_progress: ProgressCallback | None = None
) -> BulkOperation:
    """Poll with a growing interval until the operation reaches a terminal status."""
    delay = client.target.poll_interval
    while True:
        operation = await get_operation(client, operation_id)
        if on_progress is not None:
            await on_progress(operation)
        if operation.finished:
            return operation
        await asyncio.sleep(delay)
        delay = min(MAX_POLL_INTERVAL, delay * 1.5)


async def find_started_mutation(client: ShopifyClient, marker: str) -> str | None:
    """The id of a recent bulk mutation whose text carries `marker` (`lifecycle.py`)."""
    return await lifecycle.find_started_mutation(client, marker)


async def cancel_operation(client: ShopifyClient, operation_id: str) -> BulkOperation:
    data = await client.execute(documents.BULK_OPERATION_CANCEL, {"id": operation_id}, retry_mutation=True)
    payload = data["bulkOperationCancel"]
    if payload.get("bulkOperation") is None:
        raise BulkOperationError(f"cannot cancel {operation_id}: {payload.get('userErrors')}")
    return BulkOperation.from_graphql(payload["bulkOperation"])


async def iter_jsonl(session: aiohttp.ClientSession, url: str) -> AsyncIterator[dict[str, Any]]:
    """Stream a JSONL result file object by object; memory holds one chunk, not the file."""
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise ShopifyTransientError(
                    f"result file answered HTTP {response.status}", operation="bulkResult"
                )
            pending = b""
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
            if pending.strip():
                yield orjson.loads(pending)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ShopifyTransientError(f"result file download failed: {exc}", operation="bulkResult") from exc


def outcome_of(line: dict[str, Any], key: str, line_number: int) -> LineOutcome:
    """Classify one result line: data with no userErrors is ok; userErrors or top-level errors are not."""
    if line.get("errors"):
        return LineOutcome(key, line_number, "errors", None, tuple(line["errors"]))
    data = line.get("data") or {}
    payload = next(iter(data.values()), None) if data else None
    if not isinstance(payload, dict):
        return LineOutcome(key, line_number, "errors", None, ({"message": "result line has no payload"},))
    user_errors = payload.get("userErrors") or []
    if user_errors:
        return LineOutcome(key, line_number, "user_errors", payload, tuple(user_errors))
    return LineOutcome(key, line_number, "ok", payload)


async def read_outcomes(
    client: ShopifyClient, operation: BulkOperation, file: BulkFile, on_outcomes: OutcomesCallback
) -> dict[str, int]:
    """Hand every line's outcome to `on_outcomes` in batches; lines with no result are `unknown`."""
    counts = {"ok": 0, "user_errors": 0, "errors": 0, "unknown": 0}
    url = operation.url or operation.partial_data_url
    with KeyIndex(file.keys_path) as keys:
        seen = bytearray(len(keys))
        batch: list[LineOutcome] = []

        async def flush() -> None:
            if batch:
                await on_outcomes(file, list(batch))
                batch.clear()

        if url:
            async for line in iter_jsonl(client.session, url):
                number = line.get("__lineNumber")
                if not isinstance(number, int) or not 0 <= number < len(keys):
                    log.warning("bulk result line without a usable line number", operation_id=operation.id)
                    continue
                if seen[number]:
                    continue
                seen[number] = 1
                outcome = outcome_of(line, keys[number], number)
                counts[outcome.status] += 1
                batch.append(outcome)
                if len(batch) >= OUTCOME_BATCH:
                    await flush()
        reason = f"bulk operation {operation.id} ended {operation.status}" + (
            f" ({operation.error_code})" if operation.error_code else ""
        )
        for number, done in enumerate(seen):
            if not done:
                counts["unknown"] += 1
                batch.append(
                    LineOutcome(keys[number], number, "unknown", None, ({"message": f"no result: {reason}"},))
                )
                if len(batch) >= OUTCOME_BATCH:
                    await flush()
        await flush()
    return counts


async def run_file(
    client: ShopifyClient,
    document: Document,
    file: BulkFile,
    *,
    on_started: StartedCallback,
    on_outcomes: OutcomesCallback,
    on_progress: ProgressCallback | None = None,
    client_identifier: str | None = None,
) -> BulkResult:
    """Upload, start (waiting for a slot), report the id, wait, and read the outcomes of one file."""
    staged_path = await stage_file(client, file)

    async def start() -> BulkOperation:
        nonlocal staged_path
        try:
            return await start_mutation(client, document, staged_path, client_identifier=client_identifier)
        except BulkOperationError as exc:
            if exc.code in {"NO_SUCH_FILE", "INTERNAL_FILE_SERVER_ERROR"}:
                log.warning("staged file not usable, uploading again", code=exc.code, file=file.path.name)
                staged_path = await stage_file(client, file)
                return await start_mutation(
                    client, document, staged_path, client_identifier=client_identifier
                )
            raise

    started = await wait_for_slot(start, client)
    await on_started(file, started.id)
    log.info("bulk operation started", operation_id=started.id, file=file.path.name, lines=file.lines)
    return await resume_file(client, started.id, file, on_outcomes=on_outcomes, on_progress=on_progress)


async def resume_file(
    client: ShopifyClient,
    operation_id: str,
    file: BulkFile,
    *,
    on_outcomes: OutcomesCallback,
    on_progress: ProgressCallback | None = None,
) -> BulkResult:
    """Wait for an operation already submitted and read its outcomes, without submitting anything."""
    started = time.monotonic()
    operation = await wait_for_operation(client, operation_id, on_progress=on_progress)
    BULK_SECONDS.observe(time.monotonic() - started)
    ending = ending_line(
        operation.id,
        operation.status,
        operation.error_code,
        has_file=bool(operation.url or operation.partial_data_url),
    )
    if ending is not None:
        log.error(ending, operation_id=operation.id, status=operation.status, error_code=operation.error_code)
    counts = await read_outcomes(client, operation, file, on_outcomes)
    log.info("bulk operation finished", operation_id=operation.id, status=operation.status, **counts)
    return BulkResult(file=file, operation=operation, counts=counts)


async def run_bulk_mutation(
    client: ShopifyClient,
    document: Document,
    files: Sequence[BulkFile],
    *,
    concurrency: int,
    on_started: StartedCallback,
    on_outcomes: OutcomesCallback,
    on_progress: ProgressCallback | None = None,
) -> list[BulkResult]:
    """Run every file, at most `concurrency` operations at once; one file's failure stops the others."""
    slots = asyncio.Semaphore(max(1, min(concurrency, bulk_slots(client.target.api_version))))

    async def one(file: BulkFile) -> BulkResult:
        async with slots:
            return await run_file(
                client,
                document,
                file,
                on_started=on_started,
                on_outcomes=on_outcomes,
                on_progress=on_progress,
            )

    with first_error():
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(file)) for file in files]
    return [task.result() for task in tasks]
