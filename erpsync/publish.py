"""Publish: planned changes → JSONL files → bulk operations; every result line recorded against its product.

A run publishes in steps, each waiting for the one before:
- `main`: removals and every write that takes no SKU from another product;
- `moves`: writes that take SKUs from other products (a regrouped feed), sent only once those products
  gave them up, so that a SKU is never on two products of the shop — a SKU still held (its giver's write
  failed or was held back) fails its taker instead;
- `retry`: creates refused because another product holds their handle, sent again without one, so that
  Shopify gives them a free handle (the title's, with a number appended when taken);
- `stock`: last, the stock of existing variants by compare-and-set (`erpsync.stock`), never blind;
- `again-1` … `again-N`: lines a transient error failed (the product "currently being modified"), writes
  and the removals the guard allowed alike, sent again as they were, at most `LINE_RETRIES` times (the
  `retry` step sends them the first time); a create goes by its custom ID, so one whose first
  attempt the shop did write is updated, never made twice.

Each kind of mutation goes in files of its own (`erpsync.publish_files`): a change to fields of existing
variants only is a productVariantsBulkUpdate line, anything structural a productSet line.

Every result line is checked against what its line sent (the product id, the SKUs) before it is
recorded; a line answered with another product fails loudly (`erpsync.result_lines`).

The files and the operation ids are stored in `sync_runs.bulk_operations` before anything is waited
on, so a run killed at any point resumes. Each operation's mutation carries a name of its own (also sent
as `clientIdentifier`): a file whose operation was started but whose id was never stored is found again
by that name among the shop's recent operations, never sent twice. Recording is idempotent, so results
read twice do no harm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.bulk_entries import entry_file, named_document, new_entry
from erpsync.db import products as store
from erpsync.db import regroup as regroup_store
from erpsync.db import runs as run_store
from erpsync.db import stock as stock_store
from erpsync.db.logs import add_logs
from erpsync.errors import first_error
from erpsync.heal import Activation, heal_stale, read_before_updates
from erpsync.logs import get_logger
from erpsync.media import record_media_outcomes
from erpsync.publish_files import write_step_files
from erpsync.record import Recorder
from erpsync.result_lines import LINE_RETRIES, checked, is_mismatch
from erpsync.shopify import documents
from erpsync.shopify.bulk import (
    BulkOperation,
    LineOutcome,
    bulk_slots,
    find_started_mutation,
    resume_file,
    run_file,
)
from erpsync.shopify.bulk_files import BulkFile, SentIndex
from erpsync.shopify.client import ShopifyClient
from erpsync.stock import STOCK_STEP, prepare_stock, settle_stock
from erpsync.stock_rules import StockPolicy

log = get_logger("erpsync.publish")

ProgressHook = Callable[[dict[str, Any]], Awaitable[None]]

STEPS = ("main", "moves", "retry")
AGAIN_STEPS = tuple(f"again-{round_}" for round_ in range(1, LINE_RETRIES + 1))


async def publish_run(
    conn: asyncpg.Connection[Any],
    pool: asyncpg.Pool[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    config_id: str,
    entries: list[dict[str, Any]],
    directory: Path,
    concurrency: int,
    send_handle: bool,
    on_progress: ProgressHook | None = None,
    resuming: bool = False,
    location_id: str | None = None,
    export_above: int = 200,
    stock: StockPolicy | None = None,
) -> list[dict[str, Any]]:
    """Write and run every step in order, resuming the steps already written; returns all entries."""

    async def run_step(step: str) -> None:
        await publish(
            pool,
            client,
            run_id=run_id,
            config_id=config_id,
            entries=entries,
            step=step,
            concurrency=concurrency,
            on_progress=on_progress,
            resuming=resuming,
            stock=stock,
        )

    if stock is None:
        await stock_store.write_stock_whole(conn, run_id)
    for step in (*STEPS, *AGAIN_STEPS):
        activations: list[Activation] = []
        if not any(entry.get("step", "main") == step for entry in entries):
            if step in AGAIN_STEPS and not await store.count_again(conn, run_id):
                continue
            if step in AGAIN_STEPS:
                # "Please try again later": a pause that grows with each round before the lines go again.
                round_ = AGAIN_STEPS.index(step) + 1
                await asyncio.sleep(
                    min(client.target.retry_max_delay, client.target.retry_base_delay * 4**round_)
                )
            if step == "main":
                activations = await read_before_updates(
                    conn,
                    client,
                    run_id=run_id,
                    config_id=config_id,
                    location_id=location_id,
                    export_above=export_above,
                )
            if step == "retry":
                await heal_stale(conn, client, run_id=run_id, config_id=config_id)
            if step == "moves":
                blocked = await regroup_store.fail_blocked_takers(conn, run_id, config_id)
                await add_logs(
                    conn,
                    [
                        (
                            config_id,
                            run_id,
                            "error",
                            skus[0] if skus else None,
                            f"product {key}: {message}",
                            None,
                        )
                        for key, skus, message in blocked
                    ],
                )
            written = await write_step_files(
                conn,
                run_id=run_id,
                config_id=config_id,
                directory=directory,
                concurrency=concurrency,
                send_handle=send_handle,
                step=step,
                activations=activations,
                location_id=location_id,
                safety_stock=stock.safety_stock if stock else 0,
            )
            if not written:
                continue
            entries.extend(written)
            await run_store.set_bulk_operations(conn, run_id, entries)
        await run_step(step)
    if stock is not None:  # after every product write: stock by compare-and-set (erpsync/stock.py)
        if not any(entry.get("step") == STOCK_STEP for entry in entries):
            files = await prepare_stock(
                conn, client, stock, run_id=run_id, config_id=config_id, directory=directory
            )
            entries += [
                new_entry(file, documents.INVENTORY_SET_QUANTITIES_BULK.name, STOCK_STEP) for file in files
            ]
            await run_store.set_bulk_operations(conn, run_id, entries)
        await run_step(STOCK_STEP)
        await settle_stock(conn, client, stock, run_id=run_id, config_id=config_id)
        await stock_store.record_stock_only(conn, run_id, config_id)
    return entries


async def publish(
    pool: asyncpg.Pool[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    config_id: str,
    entries: list[dict[str, Any]],
    step: str,
    concurrency: int,
    on_progress: ProgressHook | None = None,
    resuming: bool = False,
    stock: StockPolicy | None = None,
) -> list[BulkOperation]:
    """Run (or resume) every entry of `step` not yet done, at most `concurrency` operations at once."""
    slots = asyncio.Semaphore(max(1, min(concurrency, bulk_slots(client.target.api_version))))
    chosen = [
        (index, entry)
        for index, entry in enumerate(entries)
        if entry.get("step", "main") == step and not entry["done"]
    ]
    total = sum(int(entry["lines"]) for _, entry in chosen)
    recorder = Recorder(
        pool, run_id=run_id, config_id=config_id, total=total, on_progress=on_progress, stock=stock
    )

    async def one(index: int, entry: dict[str, Any]) -> BulkOperation:
        file = entry_file(entry)
        document = named_document(entry)

        async def on_started(_: BulkFile, operation_id: str) -> None:
            entry["id"] = operation_id
            await run_store.set_bulk_operation_field(pool, run_id, index, "id", operation_id)

        async def on_polled(operation: BulkOperation) -> None:
            await recorder.processing(index, operation.object_count)

        async def on_outcomes(_: BulkFile, outcomes: list[LineOutcome]) -> None:
            outcomes = [checked(outcome, sent[outcome.line_number]) for outcome in outcomes]
            for outcome in outcomes:
                if is_mismatch(outcome):
                    log.error(
                        "bulk result line does not match the line sent; not recorded",
                        product_key=outcome.key,
                        line=outcome.line_number,
                        file=file.path.name,
                        reason=outcome.message,
                    )
            await recorder.record(entry["document"], outcomes, step=step, operation_id=entry["id"])
            await record_media_outcomes(
                pool, run_id=run_id, config_id=config_id, document=entry["document"], outcomes=outcomes
            )

        # What each line sent, read once per file (outcomes come in batches of 500 lines).
        with SentIndex(file.keys_path) as sent:
            async with slots:
                if not entry["id"] and resuming and entry.get("marker"):
                    found = await find_started_mutation(client, entry["marker"])
                    if found is not None:
                        log.warning(
                            "found an operation started before its id was stored; not sending the file again",
                            operation_id=found,
                            file=file.path.name,
                        )
                        await on_started(file, found)
                if entry["id"]:
                    log.info("resuming bulk operation", operation_id=entry["id"], file=file.path.name)
                    result = await resume_file(
                        client, entry["id"], file, on_outcomes=on_outcomes, on_progress=on_polled
                    )
                else:
                    result = await run_file(
                        client,
                        document,
                        file,
                        on_started=on_started,
                        on_outcomes=on_outcomes,
                        on_progress=on_polled,
                        client_identifier=entry.get("marker"),
                    )
        await run_store.set_bulk_operation_field(pool, run_id, index, "status", result.operation.status)
        await run_store.set_bulk_operation_field(pool, run_id, index, "done", True)
        return result.operation

    with first_error():
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(index, entry)) for index, entry in chosen]
    return [task.result() for task in tasks]
