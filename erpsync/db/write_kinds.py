"""The SQL of field-level changes: each update compared with its last-written state at plan time.

Only updates (their hash changed) are read with `product_states.written`, a batch at a time in feed
order; each gets its changes, before -> after, and the lightest mutation that writes them
(`run_products.changes`, `run_products.write_kind`), which dry runs, publish and the journal read.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from erpsync.db.pool import Executor

SELECT_UPDATE_CHANGES = """
SELECT product_key, write_kind, changes FROM run_products
WHERE run_id = $1 AND action = 'update' ORDER BY ordinal LIMIT $2
"""
COUNT_WRITE_KINDS = """
SELECT coalesce(write_kind, 'set') AS write_kind, count(*) AS n FROM run_products
WHERE run_id = $1 AND action IN ('create', 'update') GROUP BY 1 ORDER BY 1
"""
# Field-level changes: only updates (their hash changed) are compared with their last-written state, a
# batch at a time in feed order; `forced`: the hash was forgotten (adopted, archived, a changed write
# context), so the product is written whole whatever its fields say.
MARK_CREATES_SET = "UPDATE run_products SET write_kind = 'set' WHERE run_id = $1 AND action = 'create'"
SELECT_UPDATES_TO_COMPARE = """
SELECT rp.ordinal, rp.product_key, rp.input, ps.written,
       ps.content_hash IS NULL OR ps.state <> 'active' AS forced
FROM run_products rp
LEFT JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.action = 'update' AND rp.ordinal > $3
ORDER BY rp.ordinal LIMIT $4
"""
SET_CHANGES = """
UPDATE run_products rp SET changes = t.changes::jsonb, write_kind = t.kind
FROM unnest($2::text[], $3::text[], $4::text[]) AS t(product_key, changes, kind)
WHERE rp.run_id = $1 AND rp.product_key = t.product_key
"""


async def update_changes(conn: Executor, run_id: int, limit: int) -> list[asyncpg.Record]:
    """For a dry run: each update's write kind and changed fields, in feed order."""
    return list(await conn.fetch(SELECT_UPDATE_CHANGES, run_id, limit))


async def write_kind_counts(conn: Executor, run_id: int) -> dict[str, int]:
    """Creates and updates to write, by the mutation that writes them."""
    return {row["write_kind"]: int(row["n"]) for row in await conn.fetch(COUNT_WRITE_KINDS, run_id)}


async def mark_creates_set(conn: Executor, run_id: int) -> None:
    await conn.execute(MARK_CREATES_SET, run_id)


async def updates_to_compare(
    conn: Executor, run_id: int, config_id: str, *, after: int, limit: int
) -> list[asyncpg.Record]:
    """The next batch of updates after ordinal `after`, each with its last-written state."""
    return list(await conn.fetch(SELECT_UPDATES_TO_COMPARE, run_id, config_id, after, limit))


async def set_changes(
    conn: Executor, run_id: int, keys: Sequence[str], changes: Sequence[str], kinds: Sequence[str]
) -> None:
    """Each update's changes (JSON text) and write kind on its run row."""
    await conn.execute(SET_CHANGES, run_id, list(keys), list(changes), list(kinds))
