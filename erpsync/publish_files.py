"""Publish's files: a step's planned writes and removals as JSONL files, one kind of mutation per file.

Shopify runs one mutation per bulk operation, so each kind of line goes in files of its own: productSet
(creates, structural updates, archive/draft), productVariantsBulkUpdate (changes to fields of existing
variants only, `erpsync.changes`), productDelete, metafieldsSet (owner marks) and inventoryActivate.
Each file becomes one entry of `sync_runs.bulk_operations`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from erpsync.bulk_entries import lines_per_file, new_entry
from erpsync.changes import variant_patches, without_handle
from erpsync.db import media as media_store
from erpsync.db import products as store
from erpsync.heal import Activation
from erpsync.ownership import owner_metafield
from erpsync.record import FIRST_STEPS, REMOVAL_STATUS
from erpsync.result_lines import retry_reasons
from erpsync.shopify import documents
from erpsync.shopify.bulk_files import BulkFileWriter
from erpsync.shopify.inputs import delete_line, status_line, variants_line, with_ids


async def write_step_files(
    conn: asyncpg.Connection[Any],
    *,
    run_id: int,
    config_id: str,
    directory: Path,
    concurrency: int,
    send_handle: bool,
    step: str,
    activations: list[Activation] | None = None,
    location_id: str | None = None,
    safety_stock: int = 0,
) -> list[dict[str, Any]]:
    """One step's JSONL files, as the entries stored in `sync_runs.bulk_operations`."""
    phase = {"main": 1, "moves": 2}.get(step)
    retries = step not in FIRST_STEPS
    writes = await store.count_work(conn, run_id, phase=phase, retries=retries)
    variant_writes = await store.count_work(conn, run_id, phase=phase, retries=retries, variants=True)
    media = await media_store.run_media(conn, run_id, config_id)
    entries: list[dict[str, Any]] = []
    with (
        BulkFileWriter(
            directory, f"run-{run_id}-{step}-set", max_lines=lines_per_file(writes, concurrency)
        ) as writer,
        BulkFileWriter(
            directory, f"run-{run_id}-{step}-variants", max_lines=lines_per_file(variant_writes, concurrency)
        ) as variants_writer,
    ):
        async for item in store.iter_work(conn, run_id, config_id, phase=phase, retries=retries):
            light = variant_line(item)
            if light is not None:
                variants_writer.add(item.product_key, light)
                continue
            keep_handle = (send_handle or item.product_id is None) and "handle" not in retry_reasons(
                item.retry
            )
            body = item.input if keep_handle else without_handle(item.input)
            line = with_ids(
                body,
                product_id=item.product_id,
                variant_ids=item.variant_ids,
                owner_id=item.owner_id,
                unstocked=item.unstocked,
                media=media.get(item.product_key),
                safety_stock=safety_stock,
            )
            writer.add(item.product_key, line)
        removals = []
        if step == "main":
            removals = await store.removals(conn, run_id)
        elif retries:
            removals = await store.removals(conn, run_id, again=True)
        for row in removals:
            if row["action"] in REMOVAL_STATUS:
                writer.add(
                    row["product_key"], status_line(row["shopify_product_id"], REMOVAL_STATUS[row["action"]])
                )
    entries += [new_entry(file, documents.PRODUCT_SET_BULK.name, step) for file in writer.files]
    entries += [
        new_entry(file, documents.PRODUCT_VARIANTS_BULK_UPDATE_BULK.name, step)
        for file in variants_writer.files
    ]
    deletions = [row for row in removals if row["action"] == "delete"]
    if deletions:
        prefix = f"run-{run_id}-delete" if step == "main" else f"run-{run_id}-{step}-delete"
        with BulkFileWriter(
            directory, prefix, max_lines=lines_per_file(len(deletions), concurrency)
        ) as delete_writer:
            for row in deletions:
                delete_writer.add(row["product_key"], delete_line(row["shopify_product_id"]))
        entries += [new_entry(file, documents.PRODUCT_DELETE_BULK.name, step) for file in delete_writer.files]
    if step == "main":
        entries += await _write_owner_marks(conn, run_id=run_id, config_id=config_id, directory=directory)
    if activations and location_id:
        with BulkFileWriter(
            directory, f"run-{run_id}-stock", max_lines=lines_per_file(len(activations), concurrency)
        ) as stock_writer:
            for activation in activations:
                line = {
                    "inventoryItemId": activation.inventory_item_id,
                    "locationId": location_id,
                    "available": activation.quantity,
                }
                stock_writer.add(activation.sku, line)
        entries += [
            new_entry(file, documents.INVENTORY_ACTIVATE_BULK.name, step) for file in stock_writer.files
        ]
    return entries


async def _write_owner_marks(
    conn: asyncpg.Connection[Any], *, run_id: int, config_id: str, directory: Path
) -> list[dict[str, Any]]:
    """`metafieldsSet` lines giving products tracked before erpsync marked its products their custom ID."""
    rows = await store.unmarked_products(conn, run_id, config_id)
    if not rows:
        return []
    with BulkFileWriter(directory, f"run-{run_id}-mark", max_lines=len(rows)) as writer:
        for row in rows:
            mark = {**owner_metafield(row["owner_id"]), "ownerId": row["shopify_product_id"]}
            writer.add(row["product_key"], {"metafields": [mark]})
    return [new_entry(file, documents.METAFIELDS_SET_BULK.name, "main") for file in writer.files]


def variant_line(item: store.WorkItem) -> dict[str, Any] | None:
    """The `productVariantsBulkUpdate` line of a variant-fields change, or None to write it by productSet:
    a product or a changed variant without a known id, or a line sent again after a stale id."""
    if item.write_kind not in ("variants", "variants+stock") or not item.product_id or item.written is None:
        return None
    if "stale" in retry_reasons(item.retry):
        return None
    patches = variant_patches(item.written, item.input, item.variant_ids)
    return None if patches is None else variants_line(item.product_id, patches)
