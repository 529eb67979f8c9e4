"""Reconcile: one bulk export of the whole shop, settling what the incremental drift check cannot see.

The check sees products updated and deleted since the previous run (`erpsync.drift`); a reconcile sees
everything: owned products missing from the shop (settled per `drift_policy` as a deletion), variants
added or removed by hand and field drift on every owned product (as the check settles them), a SKU of
this config on two shop products (reported; neither product is touched, and no such SKU is adopted by
it), and handles erpsync wrote that an unrelated product holds (reported). It also closes the check's
known gap: an edit made during a long run to a product that run had already written.

`erpsync reconcile ID [--dry-run]` runs one now; a config's `reconcile_every` makes the scheduler's next
run of it a reconcile once the last is older than that. Then the run goes on as an ordinary run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from erpsync.db import drift as drift_store
from erpsync.db import reconcile as store
from erpsync.db.logs import add_logs
from erpsync.drift import BATCH, Judge, Tally, reading_for
from erpsync.logs import get_logger
from erpsync.models import SyncConfig
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.drift_reads import ALL_STATUSES, ShopProduct, export_products

log = get_logger("erpsync.reconcile")
COPY_BATCH = 2000
MISSING_FLOOR = 5  # so few missing products are settled whatever share of a small catalogue they are


async def reconcile_shop(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    config: SyncConfig,
    run_id: int,
    shop: str,
    max_fraction: float = 1.0,
    allow_mass_delete: bool = False,
) -> Tally:
    """Read the whole shop once and settle every finding; the run's counts carry the tally."""
    judge = Judge(conn, config, run_id, shop)
    asked_at = datetime.now(UTC)
    reading = await reading_for(conn, config)
    await store.reset_shop_products(conn)
    log.info("reconciling: reading the whole shop")
    seen: list[store.ShopProductRow] = []
    batch: list[ShopProduct] = []
    exported = 0
    async for product in export_products(client, ALL_STATUSES, reading):
        exported += 1
        seen.append(
            (product.id, product.handle, [v.get("sku") for v in product.data["variants"] if v.get("sku")])
        )
        batch.append(product)
        if len(batch) >= BATCH:
            await _judge(conn, judge, batch)
            batch = []
        if len(seen) >= COPY_BATCH:
            await store.copy_shop_products(conn, seen)
            seen = []
    await _judge(conn, judge, batch)
    if seen:
        await store.copy_shop_products(conn, seen)
    missing = [
        drift_store.Owned(row["product_key"], row["shopify_product_id"], row["written"], list(row["skus"]))
        for row in await store.missing_products(conn, config.id)
    ]
    tracked = await drift_store.count_owned(conn, config.id)
    if len(missing) > max(MISSING_FLOOR, max_fraction * tracked) and not allow_mass_delete:
        # An export that lost products must not make a run recreate (or forget) a catalogue.
        reason = (
            f"the shop's export lacks {len(missing):,} of the {tracked:,} products this config owns "
            f"(more than {max_fraction:.0%}): not settled; --allow-mass-delete settles them once"
        )
        log.error("reconcile held back", reason=reason)
        await add_logs(conn, [(config.id, run_id, "error", None, f"reconcile: {reason}", None)])
        judge.tally.extra["missing_held_back"] = len(missing)
    else:
        await judge.deleted(missing, how="missing from the whole-shop export")
    before = await drift_store.open_of_kinds(conn, config.id, ["duplicate_sku", "handle_taken"])
    found = await _duplicates(conn, judge) | await _handles(conn, judge)
    gone = {
        int(row["id"]): "no longer seen in the shop"
        for row in before
        if (row["product_key"], row["field"]) not in found
    }
    await drift_store.settle(conn, config.id, run_id, gone)
    judge.tally.settled += len(gone)
    await drift_store.set_checked(conn, run_id, asked_at)
    judge.tally.extra.update(shop_products=exported, reported_shop=len(found))
    log.info("reconciled", **judge.tally.as_counts())
    return judge.tally


Seen = set[tuple[str | None, str]]  # (product key, field) of the findings a reconcile made


async def _judge(conn: asyncpg.Connection[Any], judge: Judge, batch: list[ShopProduct]) -> None:
    """Every owned product of the batch, whatever its `updatedAt` says: a reconcile compares them all."""
    if batch:
        owned = await drift_store.owned(conn, judge.config.id, [product.id for product in batch])
        await judge.products([(owned[product.id], product) for product in batch if product.id in owned])


async def _duplicates(conn: asyncpg.Connection[Any], judge: Judge) -> Seen:
    """Each SKU of this config on two or more shop products: reported, never touched."""
    findings: list[drift_store.Finding] = []
    lines: list[tuple[Any, ...]] = []
    journal: list[drift_store.JournalRow] = []
    for row in await store.duplicate_skus(conn, judge.config.id):
        sku, ids = row["sku"], list(row["product_ids"])
        field = f"sku[{sku}]"
        findings.append(
            drift_store.Finding("duplicate_sku", row["product_key"], row["shopify_product_id"], field, None,
                                row["shopify_product_id"], ids, "reported")
        )  # fmt: skip
        message = (
            f"SKU {sku} is on {len(ids)} products in the shop ({', '.join(ids)}): reported, none touched"
        )
        lines.append((judge.config.id, judge.run_id, "warning", sku, message, {"product_ids": ids}))
        change = [{"field": field, "before": row["shopify_product_id"], "after": ids}]
        journal.append(
            (row["product_key"] or "", [sku], "drift", change, "skipped", row["shopify_product_id"], message)
        )
    await _save(conn, judge, findings, lines, journal)
    return {(finding.product_key, finding.field) for finding in findings}


async def _handles(conn: asyncpg.Connection[Any], judge: Judge) -> Seen:
    """Each handle erpsync wrote for a product of its that an unrelated product holds: reported."""
    findings: list[drift_store.Finding] = []
    lines: list[tuple[Any, ...]] = []
    journal: list[drift_store.JournalRow] = []
    for row in await store.handles_taken(conn, judge.config.id):
        key, wanted, holder = row["product_key"], row["wanted"], row["holder"]
        findings.append(
            drift_store.Finding("handle_taken", key, row["shopify_product_id"], "handle", ["handle"], wanted,
                                holder, "reported")
        )  # fmt: skip
        message = f"the handle {wanted!r} of product {key} is held by product {holder}, which no config owns"
        lines.append((judge.config.id, judge.run_id, "warning", None, message, {"product_key": key}))
        change = [{"field": "handle", "before": wanted, "after": holder}]
        journal.append((key, [], "drift", change, "skipped", row["shopify_product_id"], message))
    await _save(conn, judge, findings, lines, journal)
    return {(finding.product_key, finding.field) for finding in findings}


async def _save(
    conn: asyncpg.Connection[Any],
    judge: Judge,
    findings: list[drift_store.Finding],
    lines: list[tuple[Any, ...]],
    journal: list[drift_store.JournalRow],
) -> None:
    judge.tally.reported += len(findings)
    await drift_store.save_findings(
        conn, config_id=judge.config.id, shop=judge.shop, policy=judge.policy, run_id=judge.run_id,
        findings=findings,
    )  # fmt: skip
    await drift_store.journal_findings(conn, judge.run_id, judge.config.id, journal)
    await add_logs(conn, lines)
