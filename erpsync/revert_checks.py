"""A revert's first stage: the reverted run's journal turned into the revert's run rows, then what the shop
holds now compared with what that run wrote, so that a product edited there since is left alone.

The journal is read a page at a time (`erpsync.inverse` decides each row); what can be reverted becomes a
`run_products` row of the revert, like a run's mapped product. The shop is then read for those rows by
bulk export (`erpsync.shopify.product_fields`): a product that is not as erpsync wrote it, or is gone, is
dropped from the revert and reported; a product to create again is looked for by SKU, so that none is
created beside one the shop already holds. Memory holds a page, and the ids of the products asked about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from erpsync.db import products as store
from erpsync.db import revert as revert_store
from erpsync.db.logs import add_logs
from erpsync.inverse import Inverse, JournalEntry, Skip, invert
from erpsync.models import SyncConfig
from erpsync.shop_compare import shop_edits
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.product_fields import ShopProduct, iter_product_fields
from erpsync.shopify.sku_search import SkuSearch

PAGE = 500
LISTED = 100  # skipped products named in the run's counts; the log has a line for each, up to LOGGED
LOGGED = 1000
STATUS_OF_STATE = {"archived": "ARCHIVED", "draft": "DRAFT"}
SHOWN_EDITS = 3


@dataclass
class SkipReport:
    """The products a revert leaves alone: how many, the first `LISTED`, and their log lines."""

    config_id: str
    run_id: int
    reverted: int
    count: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, skip: Skip) -> None:
        self.count += 1
        if len(self.listed) < LISTED:
            self.listed.append(skip.as_json())
        if len(self.lines) < LOGGED:
            named = f" (SKU {', '.join(skip.skus)})" if skip.skus else ""
            self.lines.append(
                (
                    self.config_id,
                    self.run_id,
                    "warning",
                    skip.skus[0] if skip.skus else None,
                    f"product {skip.product_key}{named} not reverted: {skip.reason}",
                    {"product_key": skip.product_key, "skus": skip.skus, "reverts_run_id": self.reverted},
                )
            )

    def counts(self) -> dict[str, Any]:
        return {"reverts_run_id": self.reverted, "revert_skipped": self.count, "revert_skips": self.listed}

    async def log(self, conn: asyncpg.Connection[Any]) -> None:
        await add_logs(conn, self.lines)


async def build_inverse(
    conn: asyncpg.Connection[Any],
    *,
    run_id: int,
    reverted: int,
    config: SyncConfig,
    report: SkipReport,
) -> int:
    """The revert's run rows from the reverted run's journal; how many products it will touch."""
    after, ordinal, kept = 0, 0, 0
    while rows := await revert_store.journal_page(conn, reverted, after=after, limit=PAGE):
        after = int(rows[-1]["id"])
        records: list[tuple[Any, ...]] = []
        for row in rows:
            found = invert(_entry(row), run_id=reverted, delete_policy=config.delete_policy)
            if isinstance(found, Skip):
                report.add(found)
                continue
            writes = found.action in ("create", "update")
            ordinal += int(writes)
            records.append(_record(run_id, found, ordinal if writes else None))
        if records:
            await revert_store.insert_inverse(conn, records)
            kept += len(records)
    return kept


def _entry(row: asyncpg.Record) -> JournalEntry:
    return JournalEntry(
        product_key=row["product_key"],
        skus=list(row["skus"] or []),
        action=row["action"],
        result=row["result"],
        changes=row["changes"],
        shopify_product_id=row["shopify_product_id"],
        written_before=row["written_before"],
        hash_before=row["hash_before"],
        later_run=row["later_run"],
        written_now=row["written_now"],
        hash_now=row["hash_now"],
        state=row["state"],
        product_id_now=row["product_id_now"],
    )


def _record(run_id: int, inverse: Inverse, ordinal: int | None) -> tuple[Any, ...]:
    """A row of `revert_store.INVERSE_COLUMNS`."""
    return (
        run_id,
        inverse.product_key,
        ordinal,
        inverse.content_hash,
        inverse.skus,
        inverse.input,
        inverse.action,
        inverse.product_id,
        inverse.written_before,
        inverse.hash_before,
    )


async def check_shop(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    reverted: int,
    config: SyncConfig,
    location_id: str,
    export_above: int,
    report: SkipReport,
) -> None:
    """Drop from the revert every product the shop holds otherwise than the reverted run left it."""
    rows = await revert_store.shop_checked(conn, run_id)
    keys = {str(row["shopify_product_id"]): str(row["product_key"]) for row in rows}
    seen: set[str] = set()
    batch: list[ShopProduct] = []
    async for product in iter_product_fields(client, list(keys), export_above=export_above):
        seen.add(product.product_id)
        batch.append(product)
        if len(batch) >= PAGE:
            await _compare(conn, batch, keys, run_id=run_id, reverted=reverted, config=config, report=report)
            batch = []
    await _compare(conn, batch, keys, run_id=run_id, reverted=reverted, config=config, report=report)
    gone = [key for product_id, key in keys.items() if product_id not in seen]
    for start in range(0, len(gone), PAGE):
        chunk = gone[start : start + PAGE]
        for row in await revert_store.expected_states(conn, run_id, config.id, chunk):
            reason = f"no longer in the shop (deleted there since run {reverted})"
            report.add(Skip(row["product_key"], list(row["skus"] or []), reason))
        await store.drop_rejected(conn, run_id, chunk)
    await _check_recreates(conn, client, run_id=run_id, location_id=location_id, report=report)


async def _compare(
    conn: asyncpg.Connection[Any],
    batch: list[ShopProduct],
    keys: dict[str, str],
    *,
    run_id: int,
    reverted: int,
    config: SyncConfig,
    report: SkipReport,
) -> None:
    if not batch:
        return
    products = {keys[product.product_id]: product for product in batch}
    edited: list[str] = []
    for row in await revert_store.expected_states(conn, run_id, config.id, list(products)):
        key = str(row["product_key"])
        expected = dict(row["written_before"] or {})
        if row["state"] in STATUS_OF_STATE:
            expected["status"] = STATUS_OF_STATE[row["state"]]
        product = products[key]
        edits = shop_edits(
            expected, product.fields, product.variants, compare_handle="handle" in config.mapping
        )
        if edits:
            shown = "; ".join(edit.describe() for edit in edits[:SHOWN_EDITS])
            more = f"; and {len(edits) - SHOWN_EDITS} more" if len(edits) > SHOWN_EDITS else ""
            reason = f"edited in the shop since run {reverted} ({shown}{more})"
            report.add(Skip(key, list(row["skus"] or []), reason))
            edited.append(key)
    if edited:
        await store.drop_rejected(conn, run_id, edited)


async def _check_recreates(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    *,
    run_id: int,
    location_id: str,
    report: SkipReport,
) -> None:
    """A product to create again whose SKU the shop holds now is left alone: never a second product."""
    rows = await revert_store.recreates(conn, run_id)
    owner = {sku: (str(row["product_key"]), list(row["skus"])) for row in rows for sku in row["skus"]}
    if not owner:
        return
    taken: dict[str, str] = {}
    async for variant in SkuSearch(client, location_id).find(sorted(owner)):
        key = owner[variant.sku][0]
        taken.setdefault(key, f"SKU {variant.sku} is on product {variant.product_id} in the shop now")
    for key, reason in taken.items():
        skus = next(skus for product_key, skus in owner.values() if product_key == key)
        report.add(Skip(key, skus, f"{reason}: it is not created a second time"))
    if taken:
        await store.drop_rejected(conn, run_id, sorted(taken))
