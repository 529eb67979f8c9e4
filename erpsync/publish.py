"""Publish: planned changes → JSONL files → bulk operations; every result line recorded against its product.

The files and the operation ids are stored in `sync_runs.bulk_operations` before anything is waited
on, so a run killed at any point resumes: files without an id are uploaded, operations with one are
polled, and recording is idempotent, so results read twice do no harm.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.db import products as store
from erpsync.db import runs as run_store
from erpsync.db.logs import INSERT_LOG
from erpsync.errors import first_error
from erpsync.logs import get_logger, scrub
from erpsync.shopify import documents
from erpsync.shopify.bulk import BulkOperation, LineOutcome, bulk_slots, resume_file, run_file
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.inputs import delete_line, status_line, with_ids

log = get_logger("erpsync.publish")

ProgressHook = Callable[[dict[str, Any]], Awaitable[None]]
# Below this many lines a file is not split further: an operation has a fixed start-up cost.
MIN_LINES_PER_OPERATION = 1000
# userError codes that mean "the product we track is gone from the shop".
GONE_CODES = frozenset({"NOT_FOUND", "PRODUCT_DOES_NOT_EXIST"})
DOCUMENTS = {doc.name: doc for doc in (documents.PRODUCT_SET_BULK, documents.PRODUCT_DELETE_BULK)}
REMOVAL_STATUS = {"archive": "ARCHIVED", "draft": "DRAFT"}


def lines_per_file(total: int, concurrency: int) -> int:
    """Spread lines over up to `concurrency` operations, but never into tiny ones."""
    return max(MIN_LINES_PER_OPERATION, math.ceil(total / max(1, concurrency)))


async def write_bulk_files(
    conn: asyncpg.Connection[Any],
    *,
    run_id: int,
    config_id: str,
    directory: Path,
    concurrency: int,
    send_handle: bool,
    writes: int,
) -> list[dict[str, Any]]:
    """The run's JSONL files, as the entries stored in `sync_runs.bulk_operations`."""
    entries: list[dict[str, Any]] = []
    with BulkFileWriter(
        directory, f"run-{run_id}-set", max_lines=lines_per_file(writes, concurrency)
    ) as writer:
        async for item in store.iter_work(conn, run_id, config_id):
            body = item.input if send_handle or item.product_id is None else _without_handle(item.input)
            line = with_ids(
                body, product_id=item.product_id, variant_ids=item.variant_ids, unstocked=item.unstocked
            )
            writer.add(item.product_key, line)
        removals = await conn.fetch(store.SELECT_REMOVALS, run_id)
        for row in removals:
            if row["action"] in REMOVAL_STATUS:
                writer.add(
                    row["product_key"], status_line(row["shopify_product_id"], REMOVAL_STATUS[row["action"]])
                )
    entries += [_entry(file, documents.PRODUCT_SET_BULK.name) for file in writer.files]
    deletions = [row for row in removals if row["action"] == "delete"]
    if deletions:
        with BulkFileWriter(
            directory, f"run-{run_id}-delete", max_lines=lines_per_file(len(deletions), concurrency)
        ) as delete_writer:
            for row in deletions:
                delete_writer.add(row["product_key"], delete_line(row["shopify_product_id"]))
        entries += [_entry(file, documents.PRODUCT_DELETE_BULK.name) for file in delete_writer.files]
    return entries


def _without_handle(product_input: dict[str, Any]) -> dict[str, Any]:
    """Updates keep the product's current handle (and so its storefront URL) unless the feed maps one."""
    return {key: value for key, value in product_input.items() if key != "handle"}


def _entry(file: BulkFile, document: str) -> dict[str, Any]:
    return {
        "document": document,
        "file": str(file.path),
        "keys": str(file.keys_path),
        "lines": file.lines,
        "size": file.size,
        "id": None,
        "status": None,
        "done": False,
    }


def _file(entry: dict[str, Any]) -> BulkFile:
    return BulkFile(Path(entry["file"]), Path(entry["keys"]), int(entry["lines"]), int(entry["size"]))


async def publish(
    pool: asyncpg.Pool[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    config_id: str,
    entries: list[dict[str, Any]],
    concurrency: int,
    on_progress: ProgressHook | None = None,
) -> list[BulkOperation]:
    """Run (or resume) every entry not yet done, at most `concurrency` operations at once."""
    slots = asyncio.Semaphore(max(1, min(concurrency, bulk_slots(client.target.api_version))))
    total = sum(int(entry["lines"]) for entry in entries if not entry["done"])
    recorder = Recorder(pool, run_id=run_id, config_id=config_id, total=total, on_progress=on_progress)

    async def one(index: int, entry: dict[str, Any]) -> BulkOperation:
        file = _file(entry)
        document = DOCUMENTS[entry["document"]]

        async def on_started(_: BulkFile, operation_id: str) -> None:
            entry["id"] = operation_id
            await run_store.set_bulk_operation_field(pool, run_id, index, "id", operation_id)

        async def on_outcomes(_: BulkFile, outcomes: list[LineOutcome]) -> None:
            await recorder.record(document.name, outcomes)

        async with slots:
            if entry["id"]:
                log.info("resuming bulk operation", operation_id=entry["id"], file=file.path.name)
                result = await resume_file(client, entry["id"], file, on_outcomes=on_outcomes)
            else:
                result = await run_file(
                    client, document, file, on_started=on_started, on_outcomes=on_outcomes
                )
        await run_store.set_bulk_operation_field(pool, run_id, index, "status", result.operation.status)
        await run_store.set_bulk_operation_field(pool, run_id, index, "done", True)
        return result.operation

    with first_error():
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(one(index, entry))
                for index, entry in enumerate(entries)
                if not entry["done"]
            ]
    return [task.result() for task in tasks]


@dataclass
class Sorted:
    """A batch of outcomes sorted into what must be written where."""

    written: list[tuple[str, str, str | None]] = field(default_factory=list)
    variants: list[tuple[str, str, str, str]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    marked: dict[str, list[str]] = field(default_factory=dict)
    results: list[tuple[str, str, str | None]] = field(default_factory=list)
    logs: list[tuple[Any, ...]] = field(default_factory=list)


def sort_outcomes(
    document: str,
    outcomes: list[LineOutcome],
    actions: dict[str, tuple[str, list[str]]],
    *,
    config_id: str,
    run_id: int,
) -> Sorted:
    """Pure: decide, line by line, what success or failure means for tracking and for the log."""
    out = Sorted()
    for outcome in outcomes:
        action, skus = actions.get(outcome.key, ("", []))
        if outcome.status == "ok":
            out.results.append((outcome.key, "ok", None))
            if document == "productDelete":
                out.forget.append(outcome.key)
            elif action in REMOVAL_STATUS:
                out.marked.setdefault(action, []).append(outcome.key)
            else:
                product = (outcome.payload or {}).get("product") or {}
                product_id = str(product.get("id"))
                out.written.append((outcome.key, product_id, product.get("handle")))
                out.variants += [
                    (node["sku"], outcome.key, product_id, node["id"])
                    for node in (product.get("variants") or {}).get("nodes") or []
                    if node.get("sku")
                ]
            continue
        if document == "productDelete" and _already_gone(outcome):
            out.results.append((outcome.key, "ok", "already gone"))
            out.forget.append(outcome.key)
            continue
        message = scrub(outcome.message)
        status = "unknown" if outcome.status == "unknown" else "failed"
        if action == "update" and {str(error.get("code")) for error in outcome.errors} & GONE_CODES:
            out.forget.append(outcome.key)
            message += " (the product is gone from the shop; it will be created again next run)"
        out.results.append((outcome.key, status, message))
        out.logs.append(
            (
                config_id,
                run_id,
                "warning" if status == "unknown" else "error",
                skus[0] if skus else None,
                f"{action or 'write'} of product {outcome.key} failed: {message}",
                {"product_key": outcome.key, "skus": skus, "errors": list(outcome.errors)},
            )
        )
    return out


class Recorder:
    """Stores each result line: ids and hash on success, the message in `sync_logs` on failure."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        run_id: int,
        config_id: str,
        total: int = 0,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.pool = pool
        self.run_id = run_id
        self.config_id = config_id
        self.total = total
        self.on_progress = on_progress
        self.lines_done = 0

    async def record(self, document: str, outcomes: list[LineOutcome]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(SELECT_ACTIONS, self.run_id, [outcome.key for outcome in outcomes])
            actions = {row["product_key"]: (row["action"], list(row["skus"] or [])) for row in rows}
            out = sort_outcomes(document, outcomes, actions, config_id=self.config_id, run_id=self.run_id)
            if out.written:
                keys, ids, handles = (list(column) for column in zip(*out.written, strict=True))
                await conn.execute(
                    store.RECORD_WRITTEN_PRODUCTS, self.run_id, self.config_id, keys, ids, handles
                )
            if out.variants:
                skus, keys, products, variant_ids = (
                    list(column) for column in zip(*out.variants, strict=True)
                )
                await conn.execute(
                    store.RECORD_WRITTEN_VARIANTS,
                    self.run_id,
                    self.config_id,
                    skus,
                    keys,
                    products,
                    variant_ids,
                )
                await conn.execute(
                    store.FORGET_VANISHED_VARIANTS, self.run_id, self.config_id, sorted(set(keys))
                )
            if out.forget:
                await conn.execute(store.FORGET_PRODUCTS, self.config_id, out.forget)
            for action, marked in out.marked.items():
                state = "archived" if action == "archive" else "draft"
                await conn.execute(store.MARK_STATE, self.config_id, marked, state)
            if out.results:
                keys, states, messages = (list(column) for column in zip(*out.results, strict=True))
                await conn.execute(store.SET_OUTCOMES, self.run_id, keys, states, messages)
            if out.logs:
                await conn.executemany(INSERT_LOG, out.logs)
            self.lines_done += len(outcomes)
            progress = {"bulk_lines_done": self.lines_done, "bulk_lines_total": self.total}
            await run_store.set_progress(conn, self.run_id, progress)
        if self.on_progress is not None:
            await self.on_progress(progress)


SELECT_ACTIONS = (
    "SELECT product_key, action, skus FROM run_products WHERE run_id = $1 AND product_key = ANY($2)"
)


def _already_gone(outcome: LineOutcome) -> bool:
    """Deleting a product that no longer exists: the goal is met (the message is unconfirmed)."""
    text = outcome.message.lower()
    return outcome.status == "user_errors" and ("not exist" in text or "not found" in text)
