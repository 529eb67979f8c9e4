"""The stock step: after every product write, existing variants' stock by compare-and-set, never blind.

productSet's `inventoryQuantities` sets a quantity blindly: a sale made in the shop between the ERP's
snapshot and the write would be listed again. So only a new variant takes its first stock there; every
other SKU of the run whose quantity the mode (erpsync/stock_rules.py) wants changed goes out as an
`inventorySetQuantities` line (≤ 100 quantities, name `available`) whose `changeFromQuantity` is what the
shop is believed to hold — what erpsync last wrote, or read. A line answered CHANGE_FROM_QUANTITY_STALE
(the shop sold or received units since) has its items read again (one query per line), the mode's rule
applied to what the shop now holds, and is sent again, at most `STALE_ROUNDS` times; its SKUs then fail
with a message and their products are written again next run.

Each line carries an idempotency key made of the config, the run, the line and its attempt: the line a
resumed run sends again is the same line with the same key, which the shop answers once
(https://shopify.dev/docs/api/usage/implementing-idempotency); an attempt after a mismatch has other
quantities and so another key (a key reused with other input is refused:
IDEMPOTENCY_KEY_PARAMETER_MISMATCH). Stock-only changes need no product write: the step compares the
run's quantities with the stock state, whatever the product's write was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.db import stock as store
from erpsync.db.logs import add_logs
from erpsync.db.pool import Executor
from erpsync.db.run_context import read_context
from erpsync.logs import get_logger, scrub
from erpsync.models import SyncConfig
from erpsync.result_lines import is_transient
from erpsync.shopify import documents
from erpsync.shopify.bulk import LineOutcome
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter
from erpsync.shopify.client import ShopifyClient
from erpsync.stock_rules import StockFacts, StockPolicy, wanted_quantity

log = get_logger("erpsync.stock")

STOCK_STEP = "stock"
# Quantities per inventorySetQuantities line (Shopify documents no limit per call): one stale quantity
# sends its whole line again, and a line's items are read again in one `nodes` query, which stays well under the 1,000-point
# limit of one query at 100 ids of 4 objects each (https://shopify.dev/docs/api/usage/limits).
LINE_QUANTITIES = 100
READ_IDS = 100
STALE_ROUNDS = 3
STALE = "CHANGE_FROM_QUANTITY_STALE"
# A key whose first request failed must not be sent again ("Retry with a new idempotency key"): the line
# is decided again like a stale one, under its next attempt's key; a key still in progress is waited on.
# https://shopify.dev/docs/api/usage/implementing-idempotency
DECIDE_AGAIN_CODES = frozenset({STALE, "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"})
SEND_AGAIN_CODES = frozenset({"IDEMPOTENCY_CONCURRENT_REQUEST"})
# The adjustment's reason, one of Shopify's list: the shop's count set to match the ERP's.
# https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities
REASON = "correction"
KEYS = uuid.UUID("6f1c54a2-3f0e-4d55-9a57-0d3c2b1e9a41")  # the namespace of erpsync's idempotency keys


def idempotency_key(config_id: str, run_id: int, line: int, attempt: int) -> str:
    """The same line of the same run at the same attempt always has the same key (a UUID, as advised)."""
    return str(uuid.uuid5(KEYS, f"{config_id}/{run_id}/stock/{line}/{attempt}"))


def line_variables(
    config_id: str, run_id: int, location_id: str, items: Sequence[store.LineItem]
) -> dict[str, Any]:
    """One line's variables: the quantities to set, each with the quantity it replaces, and its key."""
    quantities = [
        {
            "inventoryItemId": item.inventory_item_id,
            "locationId": location_id,
            "quantity": item.quantity,
            "changeFromQuantity": item.change_from,
        }
        for item in items
    ]
    return {
        "input": {"name": "available", "reason": REASON, "quantities": quantities},
        "idempotencyKey": idempotency_key(config_id, run_id, items[0].line, items[0].attempt),
    }


@dataclass(frozen=True, slots=True)
class Level:
    inventory_item_id: str
    available: int | None  # None: not stocked at the location


async def read_levels(client: ShopifyClient, ids: Sequence[str], location_id: str) -> dict[str, Level]:
    """`available` at the location now, by variant or inventory item id (the id asked for is the key)."""
    found: dict[str, Level] = {}
    for start in range(0, len(ids), READ_IDS):
        chunk = list(ids[start : start + READ_IDS])
        data = await client.execute(documents.INVENTORY_LEVELS, {"ids": chunk, "location": location_id})
        for asked, node in zip(chunk, data.get("nodes") or [], strict=False):
            if not node:
                continue
            item = node.get("inventoryItem", node) if "inventoryItem" in node else node
            if not item or not item.get("id"):
                continue
            level = item.get("inventoryLevel")
            quantities = {q["name"]: q["quantity"] for q in (level or {}).get("quantities") or []}
            found[asked] = Level(str(item["id"]), quantities.get("available") if level else None)
    return found


async def prepare_stock(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    policy: StockPolicy,
    *,
    run_id: int,
    config_id: str,
    directory: Path,
) -> list[BulkFile]:
    """Decide the run's stock (once: a resumed run keeps its decisions) and write its lines' file."""
    if not await store.has_run_stock(conn, run_id):
        await _decide(conn, client, policy, run_id=run_id, config_id=config_id)
    lines = await store.stock_lines(conn, run_id)
    if not lines:
        return []
    with BulkFileWriter(directory, f"run-{run_id}-stock-set") as writer:
        for line, items in lines.items():
            writer.add(f"stock-{line}", line_variables(config_id, run_id, policy.location_id, items))
    return writer.files


async def _decide(
    conn: asyncpg.Connection[Any], client: ShopifyClient, policy: StockPolicy, *, run_id: int, config_id: str
) -> None:
    candidates = await store.select_candidates(conn, run_id, config_id, policy.location_id)
    unknown = [c.variant_id for c in candidates if c.inventory_item_id is None or c.last_known is None]
    read = await read_levels(client, unknown, policy.location_id) if unknown else {}
    records: list[tuple[Any, ...]] = []
    line, in_line = 0, 0
    for candidate in candidates:
        item, shop_now = candidate.inventory_item_id, candidate.last_known
        if item is None or shop_now is None:
            level = read.get(candidate.variant_id)
            if level is None or level.available is None:
                continue  # not stocked at the location: inventoryActivate's (erpsync/heal.py)
            item, shop_now = level.inventory_item_id, level.available
        facts = StockFacts(candidate.erp, candidate.erp_previous, candidate.last_known, shop_now)
        wanted = wanted_quantity(policy.mode, policy.safety_stock, facts)
        number: int | None = None
        if wanted != shop_now:
            if in_line == LINE_QUANTITIES:
                line, in_line = line + 1, 0
            number, in_line = line, in_line + 1
        identity = (run_id, candidate.sku, candidate.product_key, candidate.variant_id, item)
        records.append((*identity, candidate.erp, shop_now, wanted, number))
    async with conn.transaction():
        await store.insert_run_stock(conn, records)
    log.info("stock decided", skus=len(records), lines=line + 1 if in_line else 0, mode=policy.mode)


async def record_stock_outcomes(
    conn: Executor,
    policy: StockPolicy,
    *,
    run_id: int,
    config_id: str,
    outcomes: Sequence[LineOutcome],
) -> None:
    """A stock line's answer (its key: `stock-N`): written, stale, sent again (transient) or failed."""
    written: list[int] = []
    for outcome in outcomes:
        line = int(outcome.key.removeprefix("stock-"))
        userrors = ((outcome.payload or {}).get("userErrors")) or list(outcome.errors)
        codes = {str(error.get("code")) for error in userrors}
        if outcome.status == "ok" and not userrors:
            written.append(line)
        elif codes & DECIDE_AGAIN_CODES:
            await store.set_line_outcome(conn, run_id, [line], "stale", scrub(outcome.message))
        elif codes & SEND_AGAIN_CODES or is_transient(outcome) or outcome.status == "unknown":
            # Maybe applied, maybe not: sent again with its key, the shop applies it at most once.
            await store.set_line_outcome(conn, run_id, [line], "retry", scrub(outcome.message))
        else:
            await _fail_lines(conn, run_id, config_id, [line], scrub(outcome.message or "no answer"))
    await store.record_lines_written(
        conn, run_id=run_id, config_id=config_id, location_id=policy.location_id, lines=written
    )


async def settle_stock(
    conn: asyncpg.Connection[Any], client: ShopifyClient, policy: StockPolicy, *, run_id: int, config_id: str
) -> None:
    """Send again the lines a compare mismatch or a transient error stopped, then close the run's stock."""
    for _ in range(STALE_ROUNDS):
        lines = await store.stock_lines(conn, run_id, ["stale", "retry"])
        if not lines:
            break
        for line, stopped in lines.items():
            items = stopped
            if stopped[0].outcome == "stale":
                items = await _decide_again(
                    conn, client, policy, run_id=run_id, config_id=config_id, items=items
                )
            variables = line_variables(config_id, run_id, policy.location_id, items)
            data = await client.execute(documents.INVENTORY_SET_QUANTITIES_BULK, variables)
            payload = data.get("inventorySetQuantities") or {}
            outcome = LineOutcome(
                f"stock-{line}",
                line,
                "user_errors" if payload.get("userErrors") else "ok",
                payload,
                tuple(payload.get("userErrors") or ()),
            )
            await record_stock_outcomes(conn, policy, run_id=run_id, config_id=config_id, outcomes=[outcome])
    left = await store.stock_lines(conn, run_id, ["stale", "retry"])
    if left:
        message = (
            f"the shop's quantity changed again each of {STALE_ROUNDS + 1} times erpsync wrote it; "
            "not written, tried again next run"
        )
        await _fail_lines(conn, run_id, config_id, list(left), message)
    await store.settle_run_stock(conn, run_id=run_id, config_id=config_id, location_id=policy.location_id)


async def _decide_again(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    policy: StockPolicy,
    *,
    run_id: int,
    config_id: str,
    items: list[store.LineItem],
) -> list[store.LineItem]:
    """A stale line: its items read again, the mode's rule applied to what the shop holds now."""
    levels = await read_levels(client, [item.inventory_item_id for item in items], policy.location_id)
    states = await store.known_quantities(conn, config_id, policy.location_id, [item.sku for item in items])
    decided: list[tuple[str, int, int]] = []
    for item in items:
        level = levels.get(item.inventory_item_id)
        shop_now = level.available if level is not None and level.available is not None else item.change_from
        erp_previous, last_known = states.get(item.sku, (None, None))
        facts = StockFacts(item.erp, erp_previous, last_known, shop_now)
        decided.append((item.sku, shop_now, wanted_quantity(policy.mode, policy.safety_stock, facts)))
    attempt = items[0].attempt + 1
    await store.update_line(conn, run_id, items[0].line, attempt, decided)
    log.info("stock line compared again", line=items[0].line, attempt=attempt, skus=len(items))
    return (await store.stock_lines(conn, run_id, None)).get(items[0].line, [])


async def _fail_lines(conn: Executor, run_id: int, config_id: str, lines: list[int], message: str) -> None:
    await store.set_line_outcome(conn, run_id, lines, "failed", message)
    failed = await store.stock_lines(conn, run_id, ["failed"])
    await add_logs(
        conn,
        [
            (config_id, run_id, "error", item.sku, f"stock of SKU {item.sku} not written: {message}", None)
            for line in lines
            for item in failed.get(line, [])
        ],
    )


def written_variants(outcomes: Sequence[LineOutcome]) -> list[tuple[str, str, str, str | None]]:
    """`(sku, product_key, variant_id, inventory_item_id)` of every variant productSet answers gave."""
    return [
        (str(node["sku"]), outcome.key, str(node["id"]), (node.get("inventoryItem") or {}).get("id"))
        for outcome in outcomes
        if outcome.status == "ok"
        for node in (((outcome.payload or {}).get("product") or {}).get("variants") or {}).get("nodes") or []
        if node.get("sku")
    ]


async def stock_policy(
    conn: asyncpg.Connection[Any], config: SyncConfig, location_id: str | None
) -> StockPolicy | None:
    """The config's stock settings at the run's location; a resumed run reads the location its products
    were written for from the run's context (erpsync/db/run_context.py)."""
    if location_id is None:
        location_id = ((await read_context(conn, config.id)) or {}).get("location_id")
    return StockPolicy(config.stock_mode, config.safety_stock, str(location_id)) if location_id else None
