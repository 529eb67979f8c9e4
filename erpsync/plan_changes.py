"""Each update's field-level changes, worked out at plan time for the journal (`run_products.changes`).

The input last written (`product_states.written`) against the one the run will send, as the dry run's
diffs show them (`erpsync.plan.diff_inputs`, variants matched by SKU). Streamed in batches, so a run that
updates a whole catalogue holds one batch at a time.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from erpsync.plan import diff_inputs

BATCH = 1000
SELECT_UPDATES = """
SELECT rp.product_key, ps.written, rp.input
FROM run_products rp JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.action = 'update'
"""
SET_CHANGES = """
UPDATE run_products rp SET changes = t.changes::jsonb
FROM unnest($2::text[], $3::text[]) AS t(product_key, changes)
WHERE rp.run_id = $1 AND rp.product_key = t.product_key
"""


async def plan_changes(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """Store every update's `[{field, before, after}]` on its run row; how many updates."""
    done = 0
    keys: list[str] = []
    changes: list[str] = []

    async def flush() -> None:
        await conn.execute(SET_CHANGES, run_id, keys, changes)
        keys.clear()
        changes.clear()

    async with conn.transaction():
        async for row in conn.cursor(SELECT_UPDATES, run_id, config_id, prefetch=BATCH):
            keys.append(row["product_key"])
            changes.append(orjson.dumps(diff_inputs(row["written"], row["input"])).decode())
            done += 1
            if len(keys) >= BATCH:
                await flush()
        if keys:
            await flush()
    return done
