"""Each update's field-level changes, worked out at plan time for the journal (`run_products.changes`).

The input last written (`product_states.written`) against the one the run will send, as the dry run's
diffs show them (`erpsync.plan.diff_inputs`, variants matched by SKU) — less the handle when the feed
does not map one, since an update then keeps the product's handle (`erpsync.publish`). Streamed in batches, so a run that
updates a whole catalogue holds one batch at a time.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from erpsync.db import changes as change_store
from erpsync.plan import diff_inputs

BATCH = 1000


async def plan_changes(conn: asyncpg.Connection[Any], run_id: int, config_id: str) -> int:
    """Store every update's `[{field, before, after}]` on its run row; how many updates."""
    done = 0
    keys: list[str] = []
    changes: list[str] = []
    keep_handle = not await change_store.maps_handle(conn, config_id)
    async with conn.transaction():
        async for key, written, sent in change_store.update_inputs(conn, run_id, config_id, prefetch=BATCH):
            keys.append(key)
            found = diff_inputs(written, sent)
            if keep_handle:
                found = [change for change in found if change["field"] != "handle"]
            changes.append(orjson.dumps(found).decode())
            done += 1
            if len(keys) >= BATCH:
                await change_store.set_changes(conn, run_id, keys, changes)
                keys.clear()
                changes.clear()
        if keys:
            await change_store.set_changes(conn, run_id, keys, changes)
    return done
