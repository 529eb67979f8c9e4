"""Pure: the inverse of one journal row — what a revert does to the product, or why it leaves it alone.

A revert puts each product the run changed back as erpsync wrote it before the run
(`run_changes.written_before`): an update's fields are written back (the plan then finds the lightest
mutation for them, as for any update: a price restored is a variant update), a deleted product is created
again, an archived or drafted one is written back active, and a created one is removed as the config's
`delete_policy` says. Stock is never put back: quantities move with sales, and the stock modes own them,
so a restored product keeps the quantities erpsync last wrote (a product created again starts with the
ones it had).

A product is skipped, with the reason, when the revert cannot know it is undoing only that run: a later
run changed it (or may have: no answer came), the journal keeps no state from before the run, it is no
longer tracked, or (checked against the shop afterwards, `erpsync.revert_checks`) it was edited there since.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from erpsync.changes import NEVER_WRITTEN

REMOVAL_STATE = {"archive": "archived", "draft": "draft"}
DONE = frozenset({"ok", "retried"})


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One row of the reverted run's journal, with what the config tracks of the product now."""

    product_key: str
    skus: list[str]
    action: str
    result: str
    changes: list[dict[str, Any]] | None
    shopify_product_id: str | None
    written_before: dict[str, Any] | None
    hash_before: str | None
    later_run: int | None  # the first later run of the config that changed it (or may have)
    written_now: dict[str, Any] | None  # product_states: None when no longer tracked
    hash_now: str | None
    state: str | None
    product_id_now: str | None


@dataclass(frozen=True, slots=True)
class Inverse:
    """What the revert does to one product: a run row of its own (`action` create, update, or a removal)."""

    product_key: str
    action: str
    skus: list[str]
    input: dict[str, Any] | None  # the productSet input written (create, update)
    content_hash: str | None  # the hash erpsync keeps for it once written: the one from before the run
    product_id: str | None
    written_before: dict[str, Any] | None  # what this write replaces (what the reverted run wrote): the
    hash_before: str | None  # revert's own journal keeps it, and the shop is compared with it


@dataclass(frozen=True, slots=True)
class Skip:
    """A product the revert leaves alone, and why (one line, as the log and the result say it)."""

    product_key: str
    skus: list[str]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"product_key": self.product_key, "skus": self.skus, "reason": self.reason}


def invert(entry: JournalEntry, *, run_id: int, delete_policy: str) -> Inverse | Skip:
    """The inverse of what run `run_id` did to one product (see the module's docstring)."""
    skip = _not_revertible(entry, run_id)
    if skip is not None:
        return Skip(entry.product_key, entry.skus, skip)
    if entry.action == "create":
        if delete_policy == "ignore":
            reason = f"the config's delete_policy is ignore: what run {run_id} created is kept"
            return Skip(entry.product_key, entry.skus, reason)
        return Inverse(
            entry.product_key,
            delete_policy,
            entry.skus,
            None,
            None,
            entry.product_id_now,
            entry.written_now,
            entry.hash_now,
        )
    before = entry.written_before
    assert before is not None  # `_not_revertible` says why otherwise
    if entry.action == "delete":
        return Inverse(
            entry.product_key, "create", skus_of(before), before, entry.hash_before, None, None, None
        )
    now = entry.written_now or {}
    restored = restored_input(before, now)
    if entry.action == "update" and restored == now:
        reason = f"only its stock changed in run {run_id}, and stock is not put back"
        return Skip(entry.product_key, entry.skus, reason)
    return Inverse(
        entry.product_key,
        "update",
        skus_of(restored),
        restored,
        entry.hash_before,
        entry.product_id_now,
        entry.written_now,
        entry.hash_now,
    )


def _not_revertible(entry: JournalEntry, run_id: int) -> str | None:
    """Why the product is left alone, before the shop is asked; None when it can be reverted."""
    if entry.result not in DONE:
        if entry.result == "unknown":
            return f"run {run_id} got no answer for it: whether it was written is not known"
        if entry.result == "failed":
            return f"its write failed in run {run_id}: nothing to revert"
        return f"run {run_id} did not write it ({entry.action}): nothing to revert"
    if entry.later_run is not None:
        return f"changed since by run {entry.later_run}"
    if entry.action == "delete":
        if entry.written_now is not None or entry.state is not None:
            return f"tracked again since run {run_id}"
    elif entry.state is None:
        return "no longer tracked by the config"
    elif entry.state != REMOVAL_STATE.get(entry.action, "active"):
        return f"{entry.state} since run {run_id}" if entry.state != "active" else "active again"
    if entry.action != "create" and entry.written_before is None:
        if entry.changes == [NEVER_WRITTEN]:
            return f"erpsync had not written it before run {run_id} (adopted): there is no state to restore"
        return (
            f"the journal of run {run_id} keeps no state from before it (journalled before reverts existed)"
        )
    return None


def restored_input(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """`before`, with the stock of each variant the product still has taken from `now`: stock is not put back."""
    restored = copy.deepcopy(before)
    current = {str(variant.get("sku")): variant for variant in now.get("variants") or []}
    for variant in restored.get("variants") or []:
        held = current.get(str(variant.get("sku")))
        if held is None:
            continue  # a variant the run removed comes back with the stock it had
        if "inventoryQuantities" in held:
            variant["inventoryQuantities"] = copy.deepcopy(held["inventoryQuantities"])
        else:
            variant.pop("inventoryQuantities", None)
    return restored


def skus_of(product_input: dict[str, Any]) -> list[str]:
    return [str(variant["sku"]) for variant in product_input.get("variants") or [] if variant.get("sku")]
