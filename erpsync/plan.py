"""Plan: the run's products against tracked state → create / update / unchanged / delete, and the guard.

Classification is set-based SQL over `run_products` and `product_states`. The delete guard is pure:
deletions are held back when the feed has no valid product or when they would remove more than the
allowed share of what this config tracks — a truncated feed must never empty a catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from erpsync.changes import compare, without_handle
from erpsync.db import products as store
from erpsync.db import regroup as regroup_store
from erpsync.db import write_kinds as kind_store
from erpsync.models import DeletePolicy
from erpsync.settings import SyncSettings

REMOVAL_ACTION: dict[str, str] = {"delete": "delete", "archive": "archive", "draft": "draft"}
SAMPLE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class DeleteGuard:
    """Whether the run may remove products, and if not, the one line that says why."""

    allowed: bool
    reason: str | None = None


def check_deletes(
    *,
    deletions: int,
    tracked: int,
    valid_products: int,
    max_fraction: float,
    allow_mass_delete: bool,
    variant_removals: int = 0,
    tracked_variants: int = 0,
) -> DeleteGuard:
    """Refuse mass deletion unless explicitly allowed once; removing variants is deleting too."""
    if deletions == 0:
        return _check_variant_removals(variant_removals, tracked_variants, max_fraction, allow_mass_delete)
    if valid_products == 0:
        reason = f"the feed has no valid product; would delete all {tracked:,} tracked products"
        return DeleteGuard(allow_mass_delete, None if allow_mass_delete else reason)
    fraction = deletions / tracked if tracked else 1.0
    if fraction > max_fraction and not allow_mass_delete:
        return DeleteGuard(
            False,
            f"would delete {deletions:,} of {tracked:,} products ({fraction:.0%}) > {max_fraction:.0%}",
        )
    return _check_variant_removals(variant_removals, tracked_variants, max_fraction, allow_mass_delete)


def _check_variant_removals(
    removals: int, tracked: int, max_fraction: float, allow_mass_delete: bool
) -> DeleteGuard:
    """A feed cut inside a product drops its last variants: the same share rule as for products."""
    if removals == 0 or allow_mass_delete:
        return DeleteGuard(True)
    fraction = removals / tracked if tracked else 1.0
    if fraction > max_fraction:
        return DeleteGuard(
            False,
            f"would remove {removals:,} of {tracked:,} variants ({fraction:.0%}) > {max_fraction:.0%}",
        )
    return DeleteGuard(True)


@dataclass
class Plan:
    """What a run will do; `guard` says whether its removals go ahead."""

    creates: int = 0
    updates: int = 0
    unchanged: int = 0
    removals: int = 0
    removal_action: str = "delete"
    tracked: int = 0
    guard: DeleteGuard = field(default_factory=lambda: DeleteGuard(True))
    conflicts: int = 0  # products with a SKU another config owns in the shop: not written
    held: int = 0  # updates not sent: they would remove variants while the guard holds the run back
    variant_removals: int = 0  # variants the run's updates remove from products that stay
    removed_variant_skus: dict[str, list[str]] = field(default_factory=dict)
    write_kinds: dict[str, int] = field(default_factory=dict)  # writes by mutation: set, variants, ...

    def as_json(self) -> dict[str, Any]:
        return {
            "create": self.creates,
            "update": self.updates,
            "unchanged": self.unchanged,
            self.removal_action: self.removals,
            "tracked": self.tracked,
            "deletes_allowed": self.guard.allowed,
            "deletes_held_back": self.guard.reason,
            "conflict": self.conflicts,
            "variant_removals": self.variant_removals,
            "held": self.held,
            "write_kinds": self.write_kinds,
        }


async def classify(
    conn: asyncpg.Connection[Any],
    *,
    run_id: int,
    config_id: str,
    delete_policy: DeletePolicy,
    rejected_keys: frozenset[str],
    rejected_skus: frozenset[str],
    max_fraction: float,
    allow_mass_delete: bool,
    unchanged_unlisted: int = 0,
    unmatched: Sequence[str] = (),
) -> Plan:
    """Mark every run product create/update/unchanged and add the removals the guard allows.

    `unchanged_unlisted` products were found unchanged while reading and have no row: they count as
    unchanged, and are never removal candidates since their hashes are not in `unmatched`, the hashes
    this config last wrote that no product of the feed matched.
    """
    if rejected_keys:
        await store.drop_rejected(conn, run_id, sorted(rejected_keys))
    await store.classify_run(conn, run_id, config_id)
    await regroup_store.mark_takers(conn, run_id=run_id, config_id=config_id)
    removed_variants = await regroup_store.variant_removals(conn, run_id=run_id, config_id=config_id)
    counts = await store.action_counts(conn, run_id)
    plan = Plan(
        creates=counts.get("create", 0),
        updates=counts.get("update", 0),
        unchanged=counts.get("unchanged", 0) + unchanged_unlisted,
        conflicts=counts.get("conflict", 0),
        removal_action=delete_policy,
        tracked=await store.count_tracked(conn, config_id),
    )
    plan.variant_removals = sum(map(len, removed_variants.values()))
    if delete_policy == "ignore":
        candidates: list[Any] = []
    else:
        candidates = await store.delete_candidates(
            conn,
            config_id=config_id,
            run_id=run_id,
            rejected_keys=sorted(rejected_keys),
            rejected_skus=sorted(rejected_skus),
            unmatched=unmatched,
        )
    valid_products = plan.creates + plan.updates + plan.unchanged
    plan.guard = check_deletes(
        deletions=len(candidates),
        tracked=plan.tracked,
        valid_products=valid_products,
        max_fraction=max_fraction,
        allow_mass_delete=allow_mass_delete,
        variant_removals=plan.variant_removals,
        tracked_variants=await regroup_store.count_tracked_variants(conn, config_id)
        if removed_variants
        else 0,
    )
    if removed_variants and not plan.guard.allowed:
        reason = f"not written: it would remove variants while deletes are held back ({plan.guard.reason})"
        await regroup_store.hold_writes(conn, run_id=run_id, keys=sorted(removed_variants), reason=reason)
        plan.held = len(removed_variants)
        plan.updates -= plan.held
    if candidates and plan.guard.allowed:
        await store.insert_removals(
            conn,
            run_id,
            REMOVAL_ACTION[delete_policy],
            [row["product_key"] for row in candidates],
            [row["shopify_product_id"] for row in candidates],
            config_id=config_id,
        )
        plan.removals = len(candidates)
    plan.removed_variant_skus = removed_variants
    return plan


async def plan_details(conn: asyncpg.Connection[Any], *, run_id: int, config_id: str) -> dict[str, Any]:
    """For a dry run: the product keys and SKUs in each class, and each update's changed fields, before ->
    after, with the mutation that writes them (from the last-written state: no shop read)."""
    rows = await store.keys_by_action(
        conn,
        run_id,
        ["create", "update", "unchanged", "delete", "archive", "draft", "conflict", "held"],
        SAMPLE_LIMIT * 8,
    )
    classes: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        items = classes.setdefault(row["action"], [])
        if len(items) < SAMPLE_LIMIT:
            items.append({"product_key": row["product_key"], "skus": list(row["skus"] or [])})
    diffs = [
        {"product_key": row["product_key"], "write_kind": row["write_kind"], "changes": row["changes"] or []}
        for row in await kind_store.update_changes(conn, run_id, SAMPLE_LIMIT)
    ]
    return {
        "products": classes,
        "updates": diffs,
        "write_kinds": await kind_store.write_kind_counts(conn, run_id),
    }


async def plan_writes(
    conn: asyncpg.Connection[Any],
    run_id: int,
    config_id: str,
    settings: SyncSettings | None = None,
    *,
    maps_handle: bool = True,
    batch_size: int = 500,
) -> dict[str, int]:
    """Each update's field-level changes and write kind, kept in `run_products` (`changes`, `write_kind`).

    Runs once the inputs are loaded. Only updates are read — products whose hash changed — with their
    last-written state, a batch at a time in feed order, so memory does not grow with the feed. A product
    whose hash was forgotten (adopted, archived or drafted, or the write context changed) is written whole.
    Without `maps_handle` an update keeps the shop's handle (`erpsync.publish`): it is no change of its.
    """
    lightest = settings.lightest_writes if settings is not None else True
    await kind_store.mark_creates_set(conn, run_id)
    after = 0
    while rows := await kind_store.updates_to_compare(conn, run_id, config_id, after=after, limit=batch_size):
        keys, changes, kinds = [], [], []
        for row in rows:
            written, sent = row["written"], row["input"] or {}
            if not maps_handle and written is not None:
                written, sent = without_handle(written), without_handle(sent)
            found = compare(written, sent, lightest=lightest and not row["forced"])
            keys.append(row["product_key"])
            changes.append(orjson.dumps(found.changes).decode())
            kinds.append(found.kind)
        await kind_store.set_changes(conn, run_id, keys, changes, kinds)
        after = int(rows[-1]["ordinal"])
    return await kind_store.write_kind_counts(conn, run_id)
