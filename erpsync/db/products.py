"""Tracked products and the run's planned products: the SQL behind plan, publish and record.

The run's products are COPYed into `run_products` and classified against `product_states` with
set-based statements, so planning a 100,000-product catalogue holds nothing per product in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from erpsync.db.pool import Executor


def owner_id_sql(config_id: str, product_key: str) -> str:
    """`erpsync.ownership.owner_id` in SQL, for rows that have no stored owner id yet."""
    text = f"convert_to({config_id} || E'\\n' || {product_key}, 'UTF8')"
    return f"'erpsync-' || left(encode(sha256({text}), 'hex'), 32)"


RUN_PRODUCT_COLUMNS = ("run_id", "product_key", "ordinal", "content_hash", "skus", "input", "action")

CLEAR_RUN_PRODUCTS = """
WITH stock AS (DELETE FROM run_stock WHERE run_id = $1) DELETE FROM run_products WHERE run_id = $1
"""
DROP_REJECTED = "DELETE FROM run_products WHERE run_id = $1 AND product_key = ANY($2::text[])"

# Rows arrive as 'unchanged' (their hash is one this config last wrote while active: the hash covers the
# key) or unclassified. Unclassified and tracked: 'update' (another hash, or not active) — or 'unchanged'
# for a hash written twice; untracked: 'create'. Each row is written at most once, so a run whose feed
# did not change rewrites nothing here. An update keeps what it replaces (`written_before`, `hash_before`):
# the journal holds it, so that the run can be reverted (`erpsync.revert`).
CLASSIFY_TRACKED = """
UPDATE run_products rp
SET action = CASE WHEN CHANGED THEN 'update' ELSE 'unchanged' END,
    shopify_product_id = ps.shopify_product_id,
    written_before = CASE WHEN CHANGED THEN ps.written END,
    hash_before = CASE WHEN CHANGED THEN ps.content_hash END
FROM product_states ps
WHERE rp.run_id = $1 AND ps.config_id = $2 AND ps.product_key = rp.product_key AND rp.ordinal IS NOT NULL
  AND rp.action IS NULL
""".replace("CHANGED", "(ps.content_hash IS DISTINCT FROM rp.content_hash OR ps.state <> 'active')")
CLASSIFY_CREATES = (
    "UPDATE run_products SET action = 'create' WHERE run_id = $1 AND ordinal IS NOT NULL AND action IS NULL"
)
# Gone from the feed: tracked, still active, not in this run, not held back by a rejected row, and not
# tracked by another config too (a product two configs came to track is never deleted by either). A
# product found unchanged while reading has no run row; its hash is missing from $5, the hashes this
# config last wrote that no product of the feed matched (the only hashes a run sends for this check).
SELECT_DELETE_CANDIDATES = """
SELECT ps.product_key, ps.shopify_product_id
FROM product_states ps
WHERE ps.config_id = $1 AND ps.state = 'active'
  AND NOT EXISTS (SELECT 1 FROM run_products rp WHERE rp.run_id = $2 AND rp.product_key = ps.product_key)
  AND (ps.content_hash IS NULL OR octet_length(ps.content_hash) <> 32
       OR ps.content_hash IN (SELECT unnest($5::text[])))
  AND NOT (ps.product_key = ANY($3::text[]))
  AND NOT EXISTS (SELECT 1 FROM products p
                  WHERE p.config_id = $1 AND p.product_key = ps.product_key AND p.sku = ANY($4::text[]))
  AND NOT EXISTS (SELECT 1 FROM product_states other
                  WHERE other.shopify_product_id = ps.shopify_product_id AND other.config_id <> $1)
ORDER BY ps.product_key
"""
COUNT_TRACKED = "SELECT count(*) FROM product_states WHERE config_id = $1 AND state = 'active'"
# A removal carries the SKUs the product was last written with: the journal names it by them; and the
# product as last written, so that a revert can create it again.
INSERT_DELETIONS = """
INSERT INTO run_products (run_id, product_key, action, shopify_product_id, skus, written_before, hash_before)
SELECT $1, t.key, $2, t.id,
       coalesce((SELECT array_agg(p.sku ORDER BY p.sku) FROM products p
                 WHERE p.config_id = $5 AND p.product_key = t.key), '{}'),
       ps.written, ps.content_hash
FROM unnest($3::text[], $4::text[]) AS t(key, id)
LEFT JOIN product_states ps ON ps.config_id = $5 AND ps.product_key = t.key
ON CONFLICT (run_id, product_key) DO NOTHING
"""
COUNT_ACTIONS = "SELECT action, count(*) AS n FROM run_products WHERE run_id = $1 GROUP BY action"
COUNT_OUTCOMES = """
SELECT action, coalesce(outcome, 'pending') AS outcome, count(*) AS n
FROM run_products WHERE run_id = $1 GROUP BY action, outcome
"""
SELECT_KEYS_BY_ACTION = """
SELECT action, product_key, skus FROM run_products WHERE run_id = $1 AND action = ANY($2::text[])
ORDER BY action, ordinal NULLS LAST, product_key LIMIT $3
"""


async def drop_rejected(conn: Executor, run_id: int, keys: Sequence[str]) -> None:
    """Products a rejected row belongs to are not written this run (nor removed)."""
    await conn.execute(DROP_REJECTED, run_id, list(keys))


async def classify_run(conn: Executor, run_id: int, config_id: str) -> None:
    """Mark every run product create, update or unchanged against what the config tracks."""
    await conn.execute(CLASSIFY_TRACKED, run_id, config_id)
    await conn.execute(CLASSIFY_CREATES, run_id)


async def count_tracked(conn: Executor, config_id: str) -> int:
    return int(await conn.fetchval(COUNT_TRACKED, config_id))


async def delete_candidates(
    conn: asyncpg.Connection[Any],
    *,
    config_id: str,
    run_id: int,
    rejected_keys: Sequence[str],
    rejected_skus: Sequence[str],
    unmatched: Sequence[str],
) -> list[asyncpg.Record]:
    """Tracked products gone from the feed that may be removed (`SELECT_DELETE_CANDIDATES`)."""
    async with conn.transaction():
        # Right after a large first sync `product_states` has no statistics yet, and the planner, taking
        # it for a few rows, would scan `unmatched` once per tracked product: hash joins only.
        await conn.execute("SET LOCAL enable_nestloop = off")
        rows = await conn.fetch(
            SELECT_DELETE_CANDIDATES,
            config_id,
            run_id,
            list(rejected_keys),
            list(rejected_skus),
            list(unmatched),
        )
    return list(rows)


async def insert_removals(
    conn: Executor,
    run_id: int,
    action: str,
    keys: Sequence[str],
    product_ids: Sequence[str],
    *,
    config_id: str,
) -> None:
    """The removals the guard allowed, as run rows of their own, with the SKUs each last had."""
    await conn.execute(INSERT_DELETIONS, run_id, action, list(keys), list(product_ids), config_id)


async def keys_by_action(
    conn: Executor, run_id: int, actions: Sequence[str], limit: int
) -> list[asyncpg.Record]:
    """For a dry run: action, product key and SKUs of the run's products, in feed order."""
    return list(await conn.fetch(SELECT_KEYS_BY_ACTION, run_id, list(actions), limit))


# One step's writes: a phase's lines not yet answered, or (retries) the lines to send again. A change of
# stock alone has no product line: the stock step writes it (`erpsync.stock`).
WORK_OF_STEP = """
rp.write_kind IS DISTINCT FROM 'stock'
AND CASE WHEN {retries}::boolean THEN rp.outcome = 'retry' ELSE rp.phase = {phase}::int AND rp.outcome IS NULL END
"""

# Work to publish, in feed order, with what Shopify already knows of each product.
SELECT_WORK = """
SELECT rp.product_key, rp.action, rp.input, rp.shopify_product_id, rp.retry, rp.write_kind,
       CASE WHEN rp.write_kind IN ('variants', 'variants+stock') THEN
         (SELECT ps.written FROM product_states ps WHERE ps.config_id = $2 AND ps.product_key = rp.product_key)
       END AS written,
       coalesce((SELECT ps.owner_id FROM product_states ps
                 WHERE ps.config_id = $2 AND ps.product_key = rp.product_key), OWNER_ID) AS owner_id,
       (SELECT coalesce(jsonb_object_agg(p.sku, p.shopify_variant_id), '{}'::jsonb)
        FROM products p
        WHERE p.config_id = $2 AND p.sku = ANY(rp.skus) AND p.shopify_variant_id IS NOT NULL
          AND p.shopify_product_id = rp.shopify_product_id) AS variant_ids,
       (SELECT coalesce(array_agg(p.sku), '{}')
        FROM products p
        WHERE p.config_id = $2 AND p.sku = ANY(rp.skus) AND NOT p.stocked) AS unstocked
FROM run_products rp
WHERE rp.run_id = $1 AND rp.action IN ('create', 'update') AND WORK_OF_STEP
ORDER BY rp.ordinal
""".replace("OWNER_ID", owner_id_sql("$2", "rp.product_key")).replace(
    "WORK_OF_STEP", WORK_OF_STEP.format(phase="$3", retries="$4")
)
COUNT_WORK = """
SELECT count(*) FROM run_products rp WHERE rp.run_id = $1 AND rp.action IN ('create', 'update') AND WORK_OF_STEP
""".replace("WORK_OF_STEP", WORK_OF_STEP.format(phase="$2", retries="$3"))
COUNT_VARIANT_WORK = """
SELECT count(*) FROM run_products rp WHERE rp.run_id = $1 AND rp.action = 'update'
  AND rp.write_kind IN ('variants', 'variants+stock') AND WORK_OF_STEP
""".replace("WORK_OF_STEP", WORK_OF_STEP.format(phase="$2", retries="$3"))
# Owned products whose shop copy lacks the custom ID (tracked before it existed), not written this run.
SELECT_UNMARKED = """
SELECT ps.product_key, ps.shopify_product_id, coalesce(ps.owner_id, OWNER_ID) AS owner_id
FROM product_states ps
WHERE ps.config_id = $2 AND ps.state = 'active' AND NOT ps.owner_marked
  AND NOT EXISTS (SELECT 1 FROM run_products rp WHERE rp.run_id = $1 AND rp.product_key = ps.product_key
                  AND rp.action IN ('create', 'update', 'delete', 'archive', 'draft'))
ORDER BY ps.product_key
""".replace("OWNER_ID", owner_id_sql("$2", "ps.product_key"))
COUNT_UNMARKED = (
    "SELECT count(*) FROM product_states WHERE config_id = $1 AND state = 'active' AND NOT owner_marked"
)
SELECT_REMOVALS = """
SELECT product_key, action, shopify_product_id FROM run_products
WHERE run_id = $1 AND action IN ('delete', 'archive', 'draft') ORDER BY product_key
"""

# Lines to send again (writes and removals), and the removals among them: removals the guard allowed
# this run whose lines came back with a transient error.
COUNT_AGAIN = "SELECT count(*) FROM run_products WHERE run_id = $1 AND outcome = 'retry'"
SELECT_REMOVALS_AGAIN = """
SELECT product_key, action, shopify_product_id FROM run_products
WHERE run_id = $1 AND outcome = 'retry' AND action IN ('delete', 'archive', 'draft') ORDER BY product_key
"""


async def count_work(
    conn: Executor, run_id: int, *, phase: int | None, retries: bool, variants: bool = False
) -> int:
    """How many writes one publishing step sends (see `WORK_OF_STEP`); `variants`: how many of them
    may go as variant updates."""
    return int(await conn.fetchval(COUNT_VARIANT_WORK if variants else COUNT_WORK, run_id, phase, retries))


async def count_again(conn: Executor, run_id: int) -> int:
    """Lines a transient error failed, to send again."""
    return int(await conn.fetchval(COUNT_AGAIN, run_id))


async def removals(conn: Executor, run_id: int, *, again: bool = False) -> list[asyncpg.Record]:
    """The removals the guard allowed (`again`: those to send again): key, action, shop product id."""
    return list(await conn.fetch(SELECT_REMOVALS_AGAIN if again else SELECT_REMOVALS, run_id))


async def unmarked_products(conn: Executor, run_id: int, config_id: str) -> list[asyncpg.Record]:
    """Owned products this run does not write whose shop copy lacks the custom ID."""
    return list(await conn.fetch(SELECT_UNMARKED, run_id, config_id))


async def count_unmarked(conn: Executor, config_id: str) -> int:
    return int(await conn.fetchval(COUNT_UNMARKED, config_id))


@dataclass(frozen=True, slots=True)
class WorkItem:
    product_key: str
    action: str
    input: dict[str, Any]
    product_id: str | None
    variant_ids: dict[str, str]
    unstocked: list[str]
    owner_id: str
    retry: str | None = None
    write_kind: str | None = None  # None: written before write kinds existed, as productSet
    written: dict[str, Any] | None = None  # the last-written input, for a variant update only


async def copy_run_products(conn: asyncpg.Connection[Any], records: Sequence[tuple[Any, ...]]) -> None:
    """Append a batch of `(run_id, product_key, ordinal, content_hash, skus, input)` rows."""
    await conn.copy_records_to_table("run_products", records=records, columns=RUN_PRODUCT_COLUMNS)


async def iter_work(
    conn: asyncpg.Connection[Any],
    run_id: int,
    config_id: str,
    *,
    phase: int | None = 1,
    retries: bool = False,
) -> AsyncIterator[WorkItem]:
    """Creates and updates of one phase in feed order, streamed through a server-side cursor; with
    `retries`, only the lines marked to be sent again."""
    async with conn.transaction():
        async for row in conn.cursor(SELECT_WORK, run_id, config_id, phase, retries, prefetch=500):
            yield WorkItem(
                product_key=row["product_key"],
                action=row["action"],
                input=row["input"],
                product_id=row["shopify_product_id"],
                variant_ids=row["variant_ids"],
                unstocked=list(row["unstocked"]),
                owner_id=row["owner_id"],
                retry=row["retry"],
                write_kind=row["write_kind"],
                written=row["written"],
            )


SELECT_WRITE_ORDINALS = """
SELECT ordinal FROM run_products WHERE run_id = $1 AND action IN ('create', 'update') ORDER BY ordinal
"""
CREATE_RUN_INPUTS = "CREATE TEMP TABLE IF NOT EXISTS run_inputs (ordinal integer, input jsonb)"
SET_INPUTS = """
UPDATE run_products rp SET input = ri.input
FROM run_inputs ri WHERE rp.run_id = $1 AND rp.ordinal = ri.ordinal
"""


async def load_inputs(
    conn: asyncpg.Connection[Any], run_id: int, spool: Path, *, batch_size: int = 2000
) -> int:
    """Copy from the spool the inputs of the products the plan will write (spool line N = ordinal N+1).

    The ordinals come sorted from PostgreSQL and the spool is read once, front to back."""
    wanted = [int(row["ordinal"]) for row in await conn.fetch(SELECT_WRITE_ORDINALS, run_id)]
    if not wanted:
        return 0
    await conn.execute(CREATE_RUN_INPUTS)
    await conn.execute("TRUNCATE run_inputs")
    batch: list[tuple[int, Any]] = []
    position = 0
    with spool.open("rb") as handle:
        for ordinal, line in enumerate(handle, start=1):
            if ordinal != wanted[position]:
                continue
            batch.append((ordinal, orjson.loads(line)))
            position += 1
            if len(batch) >= batch_size:
                await conn.copy_records_to_table("run_inputs", records=batch)
                batch.clear()
            if position == len(wanted):
                break
    if batch:
        await conn.copy_records_to_table("run_inputs", records=batch)
    await conn.execute(SET_INPUTS, run_id)
    return len(wanted)


# One value of 16 bytes per hash: a row per hash costs more on the wire and in Python than the set itself.
# Every hash erpsync writes is 32 hex digits; a length check, not a regex (2 µs a row), keeps out others.
SELECT_KNOWN_HASHES = """
SELECT coalesce(string_agg(decode(content_hash, 'hex'), ''::bytea), ''::bytea) FROM product_states
WHERE config_id = $1 AND state = 'active' AND octet_length(content_hash) = 32
"""


async def known_hashes(conn: Executor, config_id: str) -> set[bytes]:
    """The content hashes this config last wrote, as 16-byte digests."""
    blob: bytes = await conn.fetchval(SELECT_KNOWN_HASHES, config_id)
    return {blob[start : start + 16] for start in range(0, len(blob), 16)}


async def action_counts(conn: Executor, run_id: int) -> dict[str, int]:
    return {row["action"]: int(row["n"]) for row in await conn.fetch(COUNT_ACTIONS, run_id) if row["action"]}


async def outcome_counts(conn: Executor, run_id: int) -> dict[tuple[str, str], int]:
    rows = await conn.fetch(COUNT_OUTCOMES, run_id)
    return {(row["action"], row["outcome"]): int(row["n"]) for row in rows if row["action"]}


async def outcome_summary(conn: Executor, run_id: int) -> dict[str, int]:
    """The run's written products by outcome: created, updated, deleted, failed, unknown."""
    written = {key: n for key, n in (await outcome_counts(conn, run_id)).items() if key[0] != "unchanged"}
    return {
        "created": written.get(("create", "ok"), 0),
        "updated": written.get(("update", "ok"), 0),
        "deleted": sum(
            n
            for (action, outcome), n in written.items()
            if outcome == "ok" and action in {"delete", "archive", "draft"}
        ),
        "failed": sum(n for (_, outcome), n in written.items() if outcome == "failed"),
        # "pending": a line no result file mentioned, e.g. an operation canceled before it ran.
        "unknown": sum(n for (_, outcome), n in written.items() if outcome in {"unknown", "pending"}),
    }


async def clear_run_products(conn: Executor, run_id: int) -> None:
    """Forget a run's working rows once it ended: its outcome is in its counts and the journal."""
    await conn.execute(CLEAR_RUN_PRODUCTS, run_id)
