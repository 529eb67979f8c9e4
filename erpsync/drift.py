"""Drift: every run asks the shop what changed since the config's previous checked run, and settles what
changed in the products this config owns by its `drift_policy`.

The check (`erpsync.drift_check`) costs one small request when nothing changed (`productsCount` of the
products updated in the window, and the product `destroy` events of the same window), and grows with what
changed: the owned products the shop updated since erpsync last wrote or compared them are read and
compared with their last-written state, field by field, only for the fields the config maps
(`erpsync.drift_fields`). Policies:

- `overwrite` (default): the ERP owns the fields it maps; each drifted field is written back in this run
  with the lightest write (a price edited by hand: a variant update), a product deleted in the shop is
  created again by erpsync's custom ID (never a second product);
- `keep`: the merchant's edit wins for that field until the feed's value for it changes; a product deleted
  by hand is created again only when its feed row changes;
- `report`: nothing is written for the drift; it is reported.

Variants added or removed by hand are written back under `overwrite` (the feed's variants, the added one
named first) and reported otherwise. Whatever is found goes to `drift_findings` (`GET /configs/{id}/drift`),
the journal (rows with action `drift`), the run's counts and `/metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from erpsync.db import drift as store
from erpsync.db.logs import add_logs
from erpsync.drift_fields import (
    PRODUCT,
    VARIANT,
    FieldDrift,
    find_drift,
    get_path,
    keepable,
    path_from_json,
    same,
    with_theirs,
)
from erpsync.logs import get_logger
from erpsync.models import SyncConfig
from erpsync.shopify.drift_reads import (
    Reading,
    ShopProduct,
)

log = get_logger("erpsync.drift")

BATCH = 250
LIST_LIMIT = 2500  # updated products listed by id and time (10 requests); past it, one export of them all
ACTIONS = {"overwrite": "written back", "keep": "kept", "report": "reported"}
DELETED_ACTIONS = {
    "overwrite": "created again",
    "keep": "kept: created again when its feed row changes",
    "report": "reported",
}
MESSAGES = {
    "overwrite": "drift_policy overwrite: written back in this run",
    "keep": "drift_policy keep: the shop's value is kept until the feed's value changes",
    "report": "drift_policy report: nothing written",
}


@dataclass
class Tally:
    """What a check or a reconcile found and did; `to_write` products the run writes because of it."""

    compared: int = 0
    drifted: int = 0  # products with at least one finding
    fields: int = 0
    deleted: int = 0
    variants_added: int = 0
    variants_removed: int = 0
    written_back: int = 0
    kept: int = 0
    reported: int = 0
    settled: int = 0  # open findings the shop no longer shows
    to_write: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_counts(self) -> dict[str, Any]:
        counts = {name: value for name, value in vars(self).items() if name != "extra"}
        return {**counts, **self.extra}


def mapped_targets(config: SyncConfig) -> frozenset[str]:
    """What the config writes: its mapped and computed targets."""
    return frozenset(config.mapping) | frozenset(config.rules)


async def reading_for(conn: asyncpg.Connection[Any], config: SyncConfig) -> Reading:
    """What of each product the config's check must read."""
    targets = mapped_targets(config)
    return Reading(
        weight="variant.weight" in targets,
        product_metafields=tuple(
            f"{m.namespace}.{m.key}" for m in config.metafield_mappings if m.owner == "product"
        ),
        variant_metafields=tuple(
            f"{m.namespace}.{m.key}" for m in config.metafield_mappings if m.owner == "variant"
        ),
        variants=min(250, await store.max_variants(conn, config.id) + 5),
    )


def _back_to_ours(row: asyncpg.Record, shop: ShopProduct) -> bool:
    """An open finding the shop no longer shows, because it holds erpsync's value there again (a kept
    field is settled by the feed, or by the merchant setting it back: `Judge._reverted`)."""
    if row["kind"] not in ("field", "variant_added", "variant_removed") or row["path"] is None:
        return False
    if row["action"] == "kept":
        return False
    path = path_from_json(row["path"])
    return same(path, get_path(shop.data, path), row["ours"])


def _same_as(theirs_before: Any, drift: FieldDrift) -> bool:
    """The shop holds now what it held when this field was last written back."""
    return (
        theirs_before is not None
        and _kind(drift) == "field"
        and same(drift.path, theirs_before, drift.theirs)
    )


def _kind(drift: FieldDrift) -> str:
    if len(drift.path) == 1 and isinstance(drift.path[0], tuple) and drift.path[0][0] == "variants":
        return "variant_added" if drift.ours is None else "variant_removed"
    return "field"


@dataclass
class Batch:
    """One batch's open findings and what judging it decided, written in a few statements at its end."""

    open_rows: dict[tuple[str, str], asyncpg.Record]
    written_back: dict[tuple[str, str], Any]
    findings: list[store.Finding] = field(default_factory=list)
    settled: dict[int, str] = field(default_factory=dict)
    to_write: dict[str, dict[str, Any]] = field(default_factory=dict)  # states to write again (overwrite)
    to_keep: dict[str, dict[str, Any]] = field(default_factory=dict)  # states that take the shop's values
    journal: list[store.JournalRow] = field(default_factory=list)


@dataclass
class Judge:
    """Applies a config's policy to what the shop holds of its products, a batch at a time."""

    conn: asyncpg.Connection[Any]
    config: SyncConfig
    run_id: int
    shop: str
    tally: Tally = field(default_factory=Tally)

    @property
    def policy(self) -> str:
        return self.config.drift_policy

    async def products(self, pairs: Sequence[tuple[store.Owned, ShopProduct]]) -> None:
        """Compare each owned product with the shop's, and do what the policy says with the drift."""
        keys = [owned.product_key for owned, _ in pairs]
        batch = Batch(
            open_rows={
                (row["product_key"], row["field"]): row
                for row in await store.open_findings(self.conn, self.config.id, keys)
            },
            written_back=await store.last_written_back(self.conn, self.config.id, self.run_id, keys),
        )
        for owned, shop in pairs:
            if owned.written is not None:  # else adopted and not yet written: nothing of erpsync's to compare
                self._product(batch, owned, owned.written, shop)
        times = {
            o.product_key: p.updated_at
            for o, p in pairs
            if p.updated_at and o.product_key not in batch.to_write
        }
        await store.set_shop_times(self.conn, self.config.id, times)  # as compared: not read again unchanged
        await store.set_states(self.conn, self.config.id, batch.to_write, write=True)
        await store.set_states(self.conn, self.config.id, batch.to_keep, write=False)
        self.tally.to_write += len(batch.to_write)
        await self._save(batch.findings, batch.settled, batch.journal)

    def _product(self, batch: Batch, owned: store.Owned, written: dict[str, Any], shop: ShopProduct) -> None:
        self.tally.compared += 1
        key = owned.product_key
        drifts = find_drift(written, shop.data, mapped_targets(self.config))
        found_fields = {drift.field for drift in drifts}
        for (product_key, name), row in batch.open_rows.items():
            if product_key == key and name not in found_fields and _back_to_ours(row, shop):
                batch.settled[int(row["id"])] = "the shop holds erpsync's value again"
        # A kept field set back by the merchant (settled), and a value the shop answered again right after
        # the previous run wrote it back (its own form of erpsync's value, as Shopify normalising it): the
        # state takes the shop's value; nothing is written for either.
        reverted = [d for d in drifts if self._reverted(batch.open_rows, owned, d, batch.settled)]
        shops_form = [d for d in drifts if _same_as(batch.written_back.get((key, d.field)), d)]
        if shops_form:
            self.tally.extra["shops_form"] = self.tally.extra.get("shops_form", 0) + len(shops_form)
            log.warning(
                "the shop keeps its own form of values erpsync wrote back: taken as written",
                product_key=key, fields=[d.field for d in shops_form],
            )  # fmt: skip
        if reverted or shops_form:
            batch.to_keep[key] = with_theirs(written, shop.data, [*reverted, *shops_form])
        drifts = [d for d in drifts if d not in reverted and d not in shops_form]
        if not drifts:
            return
        self.tally.drifted += 1
        fields = [d for d in drifts if _kind(d) == "field"]
        kept = [d for d in fields if keepable(d.path)]
        self.tally.fields += len(fields)
        self.tally.variants_added += sum(1 for d in drifts if _kind(d) == "variant_added")
        self.tally.variants_removed += sum(1 for d in drifts if _kind(d) == "variant_removed")
        if self.policy == "overwrite":
            batch.to_write[key] = with_theirs(batch.to_keep.pop(key, written), shop.data, drifts)
        elif self.policy == "keep" and kept:
            batch.to_keep[key] = with_theirs(batch.to_keep.get(key, written), shop.data, kept)
        for drift in drifts:
            action = ACTIONS[self.policy] if drift in kept or self.policy != "keep" else "reported"
            self._count(action)
            path = [list(step) if isinstance(step, tuple) else step for step in drift.path]
            batch.findings.append(
                store.Finding(
                    _kind(drift), key, owned.product_id, drift.field, path, drift.ours, drift.theirs, action
                )
            )
        batch.journal.append(self._journal_row(owned, drifts))

    def _reverted(
        self,
        open_rows: dict[tuple[str, str], asyncpg.Record],
        owned: store.Owned,
        drift: FieldDrift,
        settled: dict[int, str],
    ) -> bool:
        """A kept field the merchant set back to the value erpsync wrote: no longer drift."""
        row = open_rows.get((owned.product_key, drift.field))
        if row is None or row["action"] != "kept" or not same(drift.path, drift.theirs, row["ours"]):
            return False
        settled[int(row["id"])] = "the shop holds erpsync's value again"
        return True

    def _count(self, action: str) -> None:
        if action in ("written back", "created again"):
            self.tally.written_back += 1
        elif action.startswith("kept"):
            self.tally.kept += 1
        else:
            self.tally.reported += 1

    def _journal_row(self, owned: store.Owned, drifts: Sequence[FieldDrift]) -> store.JournalRow:
        changes = [{"field": d.field, "before": d.ours, "after": d.theirs} for d in drifts]
        result = "unknown" if self.policy == "overwrite" else "skipped"
        return (
            owned.product_key,
            owned.skus,
            "drift",
            changes,
            result,
            owned.product_id,
            MESSAGES[self.policy],
        )

    async def deleted(self, gone: Sequence[store.Owned], *, how: str) -> None:
        """Owned products the shop no longer has (`how`: how that was learnt)."""
        findings: list[store.Finding] = []
        journal: list[store.JournalRow] = []
        lines: list[tuple[Any, ...]] = []
        for owned in gone:
            action = DELETED_ACTIONS[self.policy]
            self.tally.deleted += 1
            self._count(action)
            if self.policy == "overwrite":
                await store.forget(self.conn, self.config.id, owned.product_key)
                self.tally.to_write += 1
            findings.append(
                store.Finding(
                    "deleted",
                    owned.product_key,
                    owned.product_id,
                    PRODUCT,
                    None,
                    owned.product_id,
                    None,
                    action,
                )
            )
            change = [{"field": PRODUCT, "before": owned.product_id, "after": None}]
            result = "unknown" if self.policy == "overwrite" else "skipped"
            journal.append(
                (
                    owned.product_key,
                    owned.skus,
                    "drift",
                    change,
                    result,
                    owned.product_id,
                    MESSAGES[self.policy],
                )
            )
            message = (
                f"product {owned.product_key} ({owned.product_id}) was deleted in the shop ({how}): {action}"
            )
            sku = owned.skus[0] if owned.skus else None
            lines.append(
                (self.config.id, self.run_id, "warning", sku, message, {"product_key": owned.product_key})
            )
        await self._save(findings, {}, journal)
        await add_logs(self.conn, lines)

    async def _save(
        self, findings: list[store.Finding], settled: dict[int, str], journal: list[store.JournalRow]
    ) -> None:
        await store.settle(self.conn, self.config.id, self.run_id, settled)
        self.tally.settled += len(settled)
        await store.save_findings(
            self.conn, config_id=self.config.id, shop=self.shop, policy=self.policy, run_id=self.run_id,
            findings=findings,
        )  # fmt: skip
        await store.journal_findings(self.conn, self.run_id, self.config.id, journal)


__all__ = ["BATCH", "LIST_LIMIT", "VARIANT", "Judge", "Tally", "reading_for"]
