"""Record: each result line of a bulk operation → tracking, the run's per-product outcome, the log.

A successful write stores the product's ids and new hash; a failure is logged against the product's
first SKU. A line failed by a transient error is marked to be sent again in a follow-up operation, at
most `LINE_RETRIES` times in a run (`erpsync.result_lines`). Recording is idempotent, so the results of a
resumed operation can be read twice. Each product keeps the bulk operation and line number of its last
result line, for the run's journal (`erpsync.db.changes`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from erpsync.db import recording as store
from erpsync.db import runs as run_store
from erpsync.db import stock as stock_store
from erpsync.db.drift import set_shop_times
from erpsync.db.logs import add_logs
from erpsync.drift_settle import shop_times
from erpsync.logs import scrub
from erpsync.result_lines import (
    LINE_RETRIES,
    is_mismatch,
    is_transient,
    transient_attempts,
    with_transient,
)
from erpsync.run_result import LineCounts
from erpsync.shopify.bulk import LineOutcome
from erpsync.stock import record_stock_outcomes, written_variants
from erpsync.stock_rules import StockPolicy
from erpsync.variant_cap import is_daily_variant_cap

ProgressHook = Callable[[dict[str, Any]], Awaitable[None]]
# userError codes that mean "the product we track is gone from the shop".
GONE_CODES = frozenset({"NOT_FOUND", "PRODUCT_DOES_NOT_EXIST"})
REMOVAL_STATUS = {"archive": "ARCHIVED", "draft": "DRAFT"}
HANDLE_TAKEN = "HANDLE_NOT_UNIQUE"
FIRST_STEPS = frozenset({"main", "moves"})  # later steps send lines again: no handle or stale retry there


@dataclass
class Sorted:
    """A batch of outcomes sorted into what must be written where."""

    written: list[tuple[str, str, str | None]] = field(default_factory=list)
    variants: list[tuple[str, str, str, str]] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    marked: dict[str, list[str]] = field(default_factory=dict)
    results: list[tuple[str, str, str | None]] = field(default_factory=list)
    retries: dict[str, str] = field(default_factory=dict)  # product key -> why it is sent again
    logs: list[tuple[Any, ...]] = field(default_factory=list)


def sort_outcomes(
    document: str,
    outcomes: list[LineOutcome],
    actions: dict[str, tuple[str, list[str]]],
    *,
    config_id: str,
    run_id: int,
    step: str = "main",
    retried: dict[str, str | None] | None = None,
) -> Sorted:
    """Pure: decide, line by line, what success or failure means for tracking and for the log.

    `retried`: each product's `retry` so far (why and how often it was already sent again)."""
    out = Sorted()
    first_step = step in FIRST_STEPS
    for outcome in outcomes:
        action, skus = actions.get(outcome.key, ("", []))
        before = (retried or {}).get(outcome.key)
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
                # productSet answers with the product's variants, a variant update with the ones it wrote.
                nodes = (outcome.payload or {}).get("productVariants") or (product.get("variants") or {}).get(
                    "nodes"
                )
                out.variants += [
                    (node["sku"], outcome.key, product_id, node["id"])
                    for node in nodes or []
                    if node.get("sku")
                ]
            continue
        if document == "productDelete" and _already_gone(outcome):
            out.results.append((outcome.key, "ok", "already gone"))
            out.forget.append(outcome.key)
            continue
        message = scrub(outcome.message)
        codes = {str(error.get("code")) for error in outcome.errors}
        transient = is_transient(outcome) and bool(action)  # a write or a removal of this run
        if transient and transient_attempts(before) < LINE_RETRIES:
            # Sent again as it was: a create goes by its custom ID, so one the shop did write is updated.
            out.results.append((outcome.key, "retry", message))
            out.retries[outcome.key] = with_transient(before, transient_attempts(before) + 1)
            continue
        if transient:
            message += (
                f" (a transient error, still there after {LINE_RETRIES} retries in this run; "
                "the product is tried again next run)"
            )
        if is_mismatch(outcome):
            out.retries[outcome.key] = "mismatch"
        if action == "create" and HANDLE_TAKEN in codes and first_step:
            # Another product (not erpsync's) holds the handle: never written over; created without one.
            out.results.append((outcome.key, "retry", message))
            out.retries[outcome.key] = "handle"
            out.logs.append(
                (
                    config_id,
                    run_id,
                    "warning",
                    skus[0] if skus else None,
                    f"product {outcome.key}: its handle is used by another product of the shop, which erpsync "
                    "leaves alone; it is created with a free handle instead",
                    {"product_key": outcome.key, "skus": skus, "errors": list(outcome.errors)},
                )
            )
            continue
        if action == "update" and first_step and _stale_ids(outcome):
            # A product or variant erpsync tracked was removed in the shop: read back and written again.
            out.results.append((outcome.key, "retry", message))
            out.retries[outcome.key] = "stale"
            continue
        status = "unknown" if outcome.status == "unknown" else "failed"
        if action == "update" and codes & GONE_CODES:
            out.forget.append(outcome.key)
            message += " (the product is gone from the shop; it will be created again next run)"
        out.results.append((outcome.key, status, message))
        # The shop's daily variant cap: not an error of the product's; it is created another day.
        capped = action == "create" and is_daily_variant_cap(outcome.errors)
        out.logs.append(
            (
                config_id,
                run_id,
                "warning" if status == "unknown" or capped else "error",
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
        stock: StockPolicy | None = None,
    ) -> None:
        self.pool = pool
        self.stock = stock
        self.run_id = run_id
        self.config_id = config_id
        self.total = total
        self.on_progress = on_progress
        self._processed: dict[int, int] = {}
        self.lines_done = 0

    async def record(
        self,
        document: str,
        outcomes: list[LineOutcome],
        *,
        step: str = "main",
        operation_id: str | None = None,
    ) -> None:
        """`operation_id`: the bulk operation the lines came from, kept with each product's last line."""
        if document == "inventoryActivate":
            await self.record_stock(outcomes)
            return
        if document == "metafieldsSet":
            await self.record_marks(outcomes)
            return
        if document == "inventorySetQuantities" and self.stock is not None:
            async with self.pool.acquire() as conn, conn.transaction():
                await record_stock_outcomes(
                    conn, self.stock, run_id=self.run_id, config_id=self.config_id, outcomes=outcomes
                )
            self.lines_done += len(outcomes)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.run_actions(conn, self.run_id, [outcome.key for outcome in outcomes])
            actions = {row["product_key"]: (row["action"], list(row["skus"] or [])) for row in rows}
            retried = {row["product_key"]: row["retry"] for row in rows}
            out = sort_outcomes(
                document,
                outcomes,
                actions,
                config_id=self.config_id,
                run_id=self.run_id,
                step=step,
                retried=retried,
            )
            if out.written:
                await store.record_written(
                    conn, self.run_id, self.config_id, out.written, marks=document == "productSet"
                )
                await set_shop_times(
                    conn, self.config_id, shop_times(outcomes)
                )  # the drift check skips these
            if self.stock is not None and document == "productSet":
                # Before the variant ids: a variant whose id was not tracked was created with its stock.
                await stock_store.record_written_stock(
                    conn,
                    run_id=self.run_id,
                    config_id=self.config_id,
                    location_id=self.stock.location_id,
                    safety_stock=self.stock.safety_stock,
                    variants=written_variants(outcomes),
                )
            if out.variants:
                await store.record_variants(conn, self.run_id, self.config_id, out.variants)
            if out.forget:
                await store.forget_products(conn, self.config_id, out.forget)
            for action, marked in out.marked.items():
                await store.mark_state(
                    conn, self.config_id, marked, "archived" if action == "archive" else "draft"
                )
            if out.results:
                await store.set_outcomes(
                    conn,
                    self.run_id,
                    out.results,
                    operation_id=operation_id,
                    lines={outcome.key: outcome.line_number for outcome in outcomes},
                )
            if out.retries:
                await store.set_retries(conn, self.run_id, out.retries)
            if out.logs:
                await add_logs(conn, out.logs)
            self.lines_done += len(outcomes)
            progress = self._progress()
            await run_store.set_progress(conn, self.run_id, progress)
        if self.on_progress is not None:
            await self.on_progress(progress)

    async def processing(self, index: int, lines: int) -> None:
        """Shopify has processed `lines` of the file of entry `index` (its objectCount while it runs):
        progress moves during the long wait, not only once results are read."""
        if self._processed.get(index) == lines:
            return
        self._processed[index] = lines
        progress = self._progress()
        await run_store.set_progress(self.pool, self.run_id, progress)
        if self.on_progress is not None:
            await self.on_progress(progress)

    def _progress(self) -> dict[str, Any]:
        return {
            "bulk_lines_done": self.lines_done,
            "bulk_lines_processed": sum(self._processed.values()),
            "bulk_lines_total": self.total,
        }

    async def record_stock(self, outcomes: list[LineOutcome]) -> None:
        """Variants stocked at the location (line key: the SKU) are tracked as stocked; a refusal is logged."""
        stocked = [outcome.key for outcome in outcomes if outcome.status == "ok"]
        refused = [
            (
                self.config_id,
                self.run_id,
                "warning",
                outcome.key,
                f"SKU {outcome.key} could not be stocked at the config's location: {scrub(outcome.message)}",
                None,
            )
            for outcome in outcomes
            if outcome.status != "ok"
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            if stocked:
                await store.mark_stocked(conn, self.config_id, stocked)
            if refused:
                await add_logs(conn, refused)
            self.lines_done += len(outcomes)
            await run_store.set_progress(
                conn, self.run_id, {"bulk_lines_done": self.lines_done, "bulk_lines_total": self.total}
            )

    async def record_marks(self, outcomes: list[LineOutcome]) -> None:
        """Products whose custom ID is now in the shop (line key: the product key); a refusal is logged."""
        marked = [outcome.key for outcome in outcomes if outcome.status == "ok"]
        refused = [
            (
                self.config_id,
                self.run_id,
                "warning",
                None,
                f"product {outcome.key}: its erpsync id could not be set: {scrub(outcome.message)}",
                {"product_key": outcome.key},
            )
            for outcome in outcomes
            if outcome.status != "ok"
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            if marked:
                await store.mark_owner_written(conn, self.config_id, marked)
            if refused:
                await add_logs(conn, refused)
            self.lines_done += len(outcomes)


async def line_counts(conn: asyncpg.Connection[Any], run_id: int) -> dict[str, Any]:
    """The counts that tell transient retries and mismatched lines from the shop's refusals."""
    row = await store.line_count_row(conn, run_id)
    counts = LineCounts(
        retried=row["retried"],
        failed_transient=row["failed_transient"],
        failed_mismatch=row["failed_mismatch"],
        mismatched_skus=[str(sku) for sku in row["mismatched_skus"] if sku is not None],
    ).as_counts()
    return {**counts, **await stock_store.stock_counts(conn, run_id)}  # stock lines: written, failed


STALE_CODES = GONE_CODES | {"PRODUCT_VARIANT_DOES_NOT_EXIST"}


def _stale_ids(outcome: LineOutcome) -> bool:
    """A userError saying an id the line carried no longer exists (recorded with or without a code)."""
    for error in outcome.errors:
        if str(error.get("code")) in STALE_CODES:
            return True
        field_path = [str(step) for step in error.get("field") or []]
        if (
            field_path
            and field_path[-1] == "id"
            and "does not exist" in str(error.get("message", "")).lower()
        ):
            return True
    return False


def _already_gone(outcome: LineOutcome) -> bool:
    """Deleting a product that no longer exists: the goal is met (the message is unconfirmed)."""
    text = outcome.message.lower()
    return outcome.status == "user_errors" and ("not exist" in text or "not found" in text)
