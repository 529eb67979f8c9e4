"""What a run's writes do to the drift it found: kept fields stay the merchant's in what is written, and
findings the run wrote over (or the product it removed) are settled once the shop answered `ok`.

Runs inside the publishing run: `keep_fields` once the inputs are loaded (before the plan picks each
update's mutation), `settle_written` once the run's lines are recorded (before its rows are journalled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync.db import drift as store
from erpsync.drift_fields import get_path, keep_theirs, path_from_json, same

if TYPE_CHECKING:
    from erpsync.shopify.bulk import LineOutcome

REMOVALS = frozenset({"delete", "archive", "draft"})


def shop_times(outcomes: Sequence[LineOutcome]) -> dict[str, str]:
    """Product key -> the `updatedAt` the shop gave each product a line wrote: the next drift check does
    not read again a product the shop lists with that time."""
    times: dict[str, str] = {}
    for outcome in outcomes:
        product = (outcome.payload or {}).get("product") or {}
        if outcome.status == "ok" and product.get("updatedAt"):
            times[outcome.key] = str(product["updatedAt"])
    return times


async def keep_fields(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """`keep`: each kept field goes out with the shop's value while the feed still gives the value erpsync
    wrote before the edit; a field whose feed value changed is written (and settled when it is)."""
    inputs: dict[str, dict[str, Any]] = {}
    for row in await store.kept_in_run(conn, run_id, config_id):
        product_input = inputs.setdefault(row["product_key"], row["input"])
        keep_theirs(product_input, path_from_json(row["path"]), row["ours"], row["theirs"])
    await store.set_inputs(conn, run_id, inputs)
    return len(inputs)


async def settle_written(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """Close the findings this run's successful writes settled; returns how many."""
    settled: dict[int, str] = {}
    for row in await store.settled_by_run(conn, run_id, config_id):
        if row["action"] in REMOVALS:
            settled[int(row["id"])] = f"the product left the feed ({row['action']})"
            continue
        if row["kind"] == "deleted":
            if row["action"] == "create":
                settled[int(row["id"])] = "created again"
            continue
        whole = row["action"] == "create" or row["write_kind"] in (None, "set")
        sent = {change.get("field") for change in row["changes"] or []}
        if not whole and row["field"] not in sent:
            continue  # a variant update that did not carry this field
        if row["kind"] == "field" and row["path"] is not None:
            path = path_from_json(row["path"])
            if same(path, get_path(row["input"], path), row["theirs"]):
                continue  # kept: the shop's value was written with the rest
        settled[int(row["id"])] = (
            "written back" if row["done"] == "written back" else "the feed's value written"
        )
    await store.settle(conn, config_id, run_id, settled)
    await store.set_drift_results(conn, run_id)
    return len(settled)
