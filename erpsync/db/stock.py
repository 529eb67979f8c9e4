"""Stock state per SKU and location, and one run's stock lines: the SQL behind erpsync/stock.py.

`stock_states` holds what erpsync knows between runs (the ERP's last quantity, the shop's last known
`available`, the inventory item); `run_stock` holds one run's decisions and the line writing each, so a
resumed run sends the same lines again instead of deciding anew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from erpsync.db.pool import Executor

# The quantity a productSet line gave a variant (its first `inventoryQuantities` entry).
FEED_QUANTITY = "(v->'inventoryQuantities'->0->>'quantity')::int"

# After a productSet line: every variant's inventory item; a variant the line created (no variant id was
# tracked for it, or another) took its first stock in that line, less the safety stock ($4). Runs before
# the variant ids are recorded, in the same transaction, so a result read twice changes nothing.
RECORD_WRITTEN_STOCK = f"""
INSERT INTO stock_states (config_id, sku, location_id, inventory_item_id, erp_quantity, shop_quantity)
SELECT $2, t.sku, $3, t.item_id,
       CASE WHEN fresh.created THEN q.erp END, CASE WHEN fresh.created THEN greatest(0, q.erp - $4) END
FROM unnest($5::text[], $6::text[], $7::text[], $8::text[]) AS t(sku, product_key, variant_id, item_id)
JOIN run_products rp ON rp.run_id = $1 AND rp.product_key = t.product_key
LEFT JOIN LATERAL (SELECT {FEED_QUANTITY} AS erp FROM jsonb_array_elements(rp.input->'variants') v
                   WHERE v->>'sku' = t.sku AND v ? 'inventoryQuantities' LIMIT 1) q ON true
CROSS JOIN LATERAL (SELECT q.erp IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM products p WHERE p.config_id = $2 AND p.sku = t.sku AND p.shopify_variant_id = t.variant_id
) AS created) fresh
WHERE t.item_id IS NOT NULL
ON CONFLICT (config_id, sku, location_id) DO UPDATE
SET inventory_item_id = EXCLUDED.inventory_item_id,
    erp_quantity = coalesce(EXCLUDED.erp_quantity, stock_states.erp_quantity),
    shop_quantity = coalesce(EXCLUDED.shop_quantity, stock_states.shop_quantity),
    updated_at = now()
"""


async def record_written_stock(
    conn: Executor,
    *,
    run_id: int,
    config_id: str,
    location_id: str,
    safety_stock: int,
    variants: Sequence[tuple[str, str, str, str | None]],
) -> None:
    """Record `(sku, product_key, variant_id, inventory_item_id)` of productSet answers."""
    if not variants:
        return
    skus, keys, variant_ids, items = (list(column) for column in zip(*variants, strict=True))
    await conn.execute(
        RECORD_WRITTEN_STOCK, run_id, config_id, location_id, safety_stock, skus, keys, variant_ids, items
    )


# The run's SKUs whose stock the stock step decides: every variant with a quantity of every product the
# run wrote (or, for a stock-only change, planned to write) and did not fail, its variant id known.
SELECT_CANDIDATES = f"""
SELECT DISTINCT ON (v->>'sku') v->>'sku' AS sku, rp.product_key, {FEED_QUANTITY} AS erp,
       p.shopify_variant_id AS variant_id, s.inventory_item_id, s.erp_quantity, s.shop_quantity
FROM run_products rp
CROSS JOIN LATERAL jsonb_array_elements(rp.input->'variants') v
JOIN products p ON p.config_id = $2 AND p.sku = v->>'sku' AND p.shopify_variant_id IS NOT NULL
LEFT JOIN stock_states s ON s.config_id = $2 AND s.sku = p.sku AND s.location_id = $3
WHERE rp.run_id = $1 AND rp.action IN ('create', 'update') AND rp.input IS NOT NULL
  AND (rp.outcome IS NULL OR rp.outcome = 'ok') AND v ? 'inventoryQuantities'
ORDER BY v->>'sku'
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    sku: str
    product_key: str
    erp: int
    variant_id: str
    inventory_item_id: str | None
    erp_previous: int | None
    last_known: int | None


async def select_candidates(conn: Executor, run_id: int, config_id: str, location_id: str) -> list[Candidate]:
    rows = await conn.fetch(SELECT_CANDIDATES, run_id, config_id, location_id)
    return [
        Candidate(
            row["sku"],
            row["product_key"],
            int(row["erp"]),
            row["variant_id"],
            row["inventory_item_id"],
            row["erp_quantity"],
            row["shop_quantity"],
        )
        for row in rows
    ]


RUN_STOCK_COLUMNS = (
    "run_id",
    "sku",
    "product_key",
    "variant_id",
    "inventory_item_id",
    "erp_quantity",
    "change_from",
    "quantity",
    "line",
)
HAS_RUN_STOCK = "SELECT EXISTS (SELECT 1 FROM run_stock WHERE run_id = $1)"


async def has_run_stock(conn: Executor, run_id: int) -> bool:
    return bool(await conn.fetchval(HAS_RUN_STOCK, run_id))


async def insert_run_stock(conn: asyncpg.Connection[Any], records: Sequence[tuple[Any, ...]]) -> None:
    """The run's decisions, one row per SKU (`RUN_STOCK_COLUMNS`)."""
    await conn.copy_records_to_table("run_stock", records=records, columns=RUN_STOCK_COLUMNS)


SELECT_LINES = """
SELECT line, sku, product_key, inventory_item_id, erp_quantity, change_from, quantity, attempt, outcome
FROM run_stock WHERE run_id = $1 AND line IS NOT NULL AND ($2::text[] IS NULL OR outcome = ANY($2))
ORDER BY line, sku
"""


@dataclass(frozen=True, slots=True)
class LineItem:
    line: int
    sku: str
    product_key: str
    inventory_item_id: str
    erp: int
    change_from: int
    quantity: int
    attempt: int
    outcome: str | None


async def stock_lines(
    conn: Executor, run_id: int, outcomes: Sequence[str] | None = None
) -> dict[int, list[LineItem]]:
    """The run's stock lines (those with one of `outcomes`, or all), each with its items."""
    lines: dict[int, list[LineItem]] = {}
    for row in await conn.fetch(SELECT_LINES, run_id, None if outcomes is None else list(outcomes)):
        lines.setdefault(row["line"], []).append(
            LineItem(
                row["line"],
                row["sku"],
                row["product_key"],
                row["inventory_item_id"],
                row["erp_quantity"],
                row["change_from"],
                row["quantity"],
                row["attempt"],
                row["outcome"],
            )
        )
    return lines


SET_LINE_OUTCOME = """
UPDATE run_stock SET outcome = $3, message = $4 WHERE run_id = $1 AND line = ANY($2::int[])
"""


async def set_line_outcome(
    conn: Executor, run_id: int, lines: Sequence[int], outcome: str, message: str | None = None
) -> None:
    await conn.execute(SET_LINE_OUTCOME, run_id, list(lines), outcome, message)


# A line the shop applied: what it wrote is now what the shop is known to hold.
RECORD_LINES_WRITTEN = """
WITH written AS (
    UPDATE run_stock SET outcome = 'ok', message = NULL
    WHERE run_id = $1 AND line = ANY($4::int[])
    RETURNING sku, inventory_item_id, erp_quantity, quantity
)
INSERT INTO stock_states (config_id, sku, location_id, inventory_item_id, erp_quantity, shop_quantity)
SELECT $2, sku, $3, inventory_item_id, erp_quantity, quantity FROM written
ON CONFLICT (config_id, sku, location_id) DO UPDATE
SET inventory_item_id = EXCLUDED.inventory_item_id, erp_quantity = EXCLUDED.erp_quantity,
    shop_quantity = EXCLUDED.shop_quantity, updated_at = now()
"""


async def record_lines_written(
    conn: Executor, *, run_id: int, config_id: str, location_id: str, lines: Sequence[int]
) -> None:
    if lines:
        await conn.execute(RECORD_LINES_WRITTEN, run_id, config_id, location_id, list(lines))


# A line decided again after a compare mismatch: each item's new compare value and quantity, and marked
# to be sent (`retry`): a run stopped before its answer was recorded sends it again under the same key.
UPDATE_LINE = """
UPDATE run_stock rs SET change_from = t.change_from, quantity = t.quantity, attempt = $3, outcome = 'retry'
FROM unnest($4::text[], $5::int[], $6::int[]) AS t(sku, change_from, quantity)
WHERE rs.run_id = $1 AND rs.line = $2 AND rs.sku = t.sku
"""


async def update_line(
    conn: Executor, run_id: int, line: int, attempt: int, items: Sequence[tuple[str, int, int]]
) -> None:
    """`(sku, change_from, quantity)` of a line about to be sent again, as attempt `attempt`."""
    skus, changes, quantities = (list(column) for column in zip(*items, strict=True))
    await conn.execute(UPDATE_LINE, run_id, line, attempt, skus, changes, quantities)


# The SKUs the shop already held right: the ERP's quantity is now the previous one, the compared
# quantity the shop's. Products whose stock could not be written are written again next run.
SETTLE_RUN_STOCK = """
WITH unwritten AS (
    INSERT INTO stock_states (config_id, sku, location_id, inventory_item_id, erp_quantity, shop_quantity)
    SELECT $2, sku, $3, inventory_item_id, erp_quantity, change_from FROM run_stock
    WHERE run_id = $1 AND line IS NULL AND change_from IS NOT NULL AND inventory_item_id IS NOT NULL
    ON CONFLICT (config_id, sku, location_id) DO UPDATE
    SET inventory_item_id = EXCLUDED.inventory_item_id, erp_quantity = EXCLUDED.erp_quantity,
        shop_quantity = EXCLUDED.shop_quantity, updated_at = now()
)
UPDATE product_states SET content_hash = NULL
WHERE config_id = $2
  AND product_key IN (SELECT product_key FROM run_stock WHERE run_id = $1 AND outcome = 'failed')
"""


async def settle_run_stock(conn: Executor, *, run_id: int, config_id: str, location_id: str) -> None:
    await conn.execute(SETTLE_RUN_STOCK, run_id, config_id, location_id)


COUNT_RUN_STOCK = """
SELECT count(DISTINCT line) FILTER (WHERE line IS NOT NULL) AS lines,
       count(*) FILTER (WHERE outcome = 'ok') AS written,
       count(*) FILTER (WHERE line IS NOT NULL AND outcome IS DISTINCT FROM 'ok') AS failed,
       count(*) FILTER (WHERE attempt > 0) AS compared_again
FROM run_stock WHERE run_id = $1
"""


async def stock_counts(conn: Executor, run_id: int) -> dict[str, int]:
    """The run's stock lines, the SKUs they wrote and failed, and those decided again after a mismatch."""
    row = await conn.fetchrow(COUNT_RUN_STOCK, run_id)
    assert row is not None
    return {
        "stock_lines": int(row["lines"]),
        "stock_written": int(row["written"]),
        "stock_failed": int(row["failed"]),
        "stock_compared_again": int(row["compared_again"]),
    }


CLEAR_RUN_STOCK = "DELETE FROM run_stock WHERE run_id = $1"


async def clear_run_stock(conn: Executor, run_id: int) -> None:
    await conn.execute(CLEAR_RUN_STOCK, run_id)


SELECT_STATES = """
SELECT sku, erp_quantity, shop_quantity FROM stock_states
WHERE config_id = $1 AND location_id = $2 AND sku = ANY($3::text[])
"""


async def known_quantities(
    conn: Executor, config_id: str, location_id: str, skus: Sequence[str]
) -> dict[str, tuple[int | None, int | None]]:
    """SKU -> (the ERP's quantity last seen, the shop's quantity last known) at the location."""
    rows = await conn.fetch(SELECT_STATES, config_id, location_id, list(skus))
    return {row["sku"]: (row["erp_quantity"], row["shop_quantity"]) for row in rows}


# A product whose only change is its stock gets no product line: once the stock step is settled it is
# recorded as written (its new hash and input) unless one of its stock lines was not written, in which
# case it failed and its old hash stays, so the next run tries it again.
FAIL_STOCK_ONLY = """
UPDATE run_products rp SET outcome = 'failed', message = 'its stock could not be written (see the run log)'
WHERE rp.run_id = $1 AND rp.action = 'update' AND rp.write_kind = 'stock' AND rp.outcome IS NULL
  AND EXISTS (SELECT 1 FROM run_stock rs WHERE rs.run_id = $1 AND rs.product_key = rp.product_key
              AND rs.line IS NOT NULL AND rs.outcome IS DISTINCT FROM 'ok')
"""
RECORD_STOCK_ONLY = """
WITH done AS (
    UPDATE run_products SET outcome = 'ok'
    WHERE run_id = $1 AND action = 'update' AND write_kind = 'stock' AND outcome IS NULL
    RETURNING product_key, content_hash, input
)
UPDATE product_states ps
SET content_hash = done.content_hash, written = done.input, last_run_id = $1, updated_at = now()
FROM done WHERE ps.config_id = $2 AND ps.product_key = done.product_key
"""
# No location to write stock at: a change with stock in it goes out whole, as productSet carries stock.
WRITE_STOCK_WHOLE = """
UPDATE run_products SET write_kind = 'set' WHERE run_id = $1 AND write_kind IN ('stock', 'variants+stock')
"""


async def record_stock_only(conn: Executor, run_id: int, config_id: str) -> None:
    """After the stock step: the stock-only products, written (or failed) by their stock lines alone."""
    await conn.execute(FAIL_STOCK_ONLY, run_id)
    await conn.execute(RECORD_STOCK_ONLY, run_id, config_id)


async def write_stock_whole(conn: Executor, run_id: int) -> None:
    await conn.execute(WRITE_STOCK_WHOLE, run_id)
