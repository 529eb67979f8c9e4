"""The SQL of recording: each bulk result line's meaning for tracking and for the run's own rows.

A successful write stores the product's ids, handle, hash and last-written input, and its variants' ids;
a removal forgets the product or marks its state; every line's outcome (and why it is sent again) goes on
its run row. Each statement takes a whole batch of result lines (up to 500) at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from erpsync.db.pool import Executor
from erpsync.db.products import owner_id_sql

# Recording: a successful write stores the ids and the new hash; the product's vanished SKUs go. $6: the
# line was a productSet, which carries the owner's custom ID (a variant update carries no metafield).
RECORD_WRITTEN_PRODUCTS = """
INSERT INTO product_states (config_id, product_key, shopify_product_id, handle, content_hash, written, state,
                            last_run_id, updated_at, owner_id, owner_marked)
SELECT $2, rp.product_key, t.product_id, t.handle, rp.content_hash, rp.input, 'active', $1, now(),
       OWNER_ID, $6::boolean AND (rp.action = 'create' OR rp.input ? 'metafields')
FROM unnest($3::text[], $4::text[], $5::text[]) AS t(product_key, product_id, handle)
JOIN run_products rp ON rp.run_id = $1 AND rp.product_key = t.product_key
ON CONFLICT (config_id, product_key) DO UPDATE
SET shopify_product_id = EXCLUDED.shopify_product_id, handle = EXCLUDED.handle,
    content_hash = EXCLUDED.content_hash, written = EXCLUDED.written, state = 'active',
    last_run_id = EXCLUDED.last_run_id, updated_at = now(),
    owner_id = coalesce(product_states.owner_id, EXCLUDED.owner_id),
    owner_marked = product_states.owner_marked OR EXCLUDED.owner_marked
""".replace("OWNER_ID", owner_id_sql("$2", "rp.product_key"))
RECORD_WRITTEN_VARIANTS = """
INSERT INTO products (config_id, sku, product_key, shopify_product_id, shopify_variant_id, content_hash,
                      last_run_id, updated_at)
SELECT $2, t.sku, t.product_key, t.product_id, t.variant_id, rp.content_hash, $1, now()
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS t(sku, product_key, product_id, variant_id)
JOIN run_products rp ON rp.run_id = $1 AND rp.product_key = t.product_key
ON CONFLICT (config_id, sku) DO UPDATE
SET product_key = EXCLUDED.product_key, shopify_product_id = EXCLUDED.shopify_product_id,
    shopify_variant_id = EXCLUDED.shopify_variant_id, content_hash = EXCLUDED.content_hash,
    last_run_id = EXCLUDED.last_run_id, updated_at = now()
"""
FORGET_VANISHED_VARIANTS = """
DELETE FROM products p
USING run_products rp
WHERE rp.run_id = $1 AND p.config_id = $2 AND rp.product_key = ANY($3::text[])
  AND p.product_key = rp.product_key AND NOT (p.sku = ANY(rp.skus))
"""
# With the bulk operation and line number of the product's last result line, for the run's journal.
SET_OUTCOMES = """
UPDATE run_products rp SET outcome = t.outcome, message = t.message,
    bulk_operation_id = coalesce($5, rp.bulk_operation_id), line_number = coalesce(t.line, rp.line_number)
FROM unnest($2::text[], $3::text[], $4::text[], $6::int[]) AS t(product_key, outcome, message, line)
WHERE rp.run_id = $1 AND rp.product_key = t.product_key
"""
SET_RETRIES = """
UPDATE run_products rp SET retry = t.retry
FROM unnest($2::text[], $3::text[]) AS t(product_key, retry)
WHERE rp.run_id = $1 AND rp.product_key = t.product_key
"""
FORGET_PRODUCTS = """
WITH gone AS (DELETE FROM product_states WHERE config_id = $1 AND product_key = ANY($2::text[]))
DELETE FROM products WHERE config_id = $1 AND product_key = ANY($2::text[])
"""
MARK_STATE = """
UPDATE product_states SET state = $3, content_hash = NULL, updated_at = now()
WHERE config_id = $1 AND product_key = ANY($2::text[])
"""
MARK_OWNER_WRITTEN = (
    "UPDATE product_states SET owner_marked = true WHERE config_id = $1 AND product_key = ANY($2::text[])"
)
MARK_STOCKED = "UPDATE products SET stocked = true WHERE config_id = $1 AND sku = ANY($2::text[])"
SELECT_ACTIONS = (
    "SELECT product_key, action, skus, retry FROM run_products WHERE run_id = $1 AND product_key = ANY($2)"
)
# The run's result-line counts (`LineCounts`): sent again for a transient error, failed after the bound,
# failed because the answer did not match the line sent (with the SKUs, for the run's summary).
SELECT_LINE_COUNTS = """
SELECT count(*) FILTER (WHERE retry LIKE '%transient:%') AS retried,
       count(*) FILTER (WHERE retry LIKE '%transient:%' AND outcome = 'failed') AS failed_transient,
       count(*) FILTER (WHERE retry = 'mismatch') AS failed_mismatch,
       coalesce((array_agg(skus[1] ORDER BY ordinal) FILTER (WHERE retry = 'mismatch'))[1:20], '{}')
         AS mismatched_skus
FROM run_products WHERE run_id = $1
"""


async def run_actions(conn: Executor, run_id: int, keys: Sequence[str]) -> list[asyncpg.Record]:
    """Each product's planned action, SKUs and retry state, for a batch of result lines."""
    return list(await conn.fetch(SELECT_ACTIONS, run_id, list(keys)))


async def record_written(
    conn: Executor,
    run_id: int,
    config_id: str,
    written: Sequence[tuple[str, str, str | None]],
    *,
    marks: bool = True,
) -> None:
    """Products written: `(product key, shop product id, handle)`; their hash and input become tracked.
    `marks`: the lines were productSet lines, which carry the owner's custom ID."""
    keys, ids, handles = (list(column) for column in zip(*written, strict=True))
    await conn.execute(RECORD_WRITTEN_PRODUCTS, run_id, config_id, keys, ids, handles, marks)


async def record_variants(
    conn: Executor,
    run_id: int,
    config_id: str,
    variants: Sequence[tuple[str, str, str, str]],
) -> None:
    """Variants written: `(SKU, product key, product id, variant id)`; SKUs a product lost are forgotten."""
    skus, keys, products, variant_ids = (list(column) for column in zip(*variants, strict=True))
    await conn.execute(RECORD_WRITTEN_VARIANTS, run_id, config_id, skus, keys, products, variant_ids)
    await conn.execute(FORGET_VANISHED_VARIANTS, run_id, config_id, sorted(set(keys)))


async def forget_products(conn: Executor, config_id: str, keys: Sequence[str]) -> None:
    """Products gone from the shop (deleted, or found gone): no longer tracked."""
    await conn.execute(FORGET_PRODUCTS, config_id, list(keys))


async def mark_state(conn: Executor, config_id: str, keys: Sequence[str], state: str) -> None:
    """Products archived or set to draft: tracked with that state, written in full when they return."""
    await conn.execute(MARK_STATE, config_id, list(keys), state)


async def set_outcomes(
    conn: Executor,
    run_id: int,
    results: Sequence[tuple[str, str, str | None]],
    *,
    operation_id: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> None:
    """Each line's outcome on its run row: `(product key, outcome, message)`, with the bulk operation the
    lines came from and each product's line number in its file."""
    keys, states, messages = (list(column) for column in zip(*results, strict=True))
    numbers = [(lines or {}).get(key) for key in keys]
    await conn.execute(SET_OUTCOMES, run_id, keys, states, messages, operation_id, numbers)


async def set_retries(conn: Executor, run_id: int, retries: Mapping[str, str]) -> None:
    """Why each product is sent again (or failed for good after being sent again): key -> reason."""
    await conn.execute(SET_RETRIES, run_id, list(retries), list(retries.values()))


async def mark_stocked(conn: Executor, config_id: str, skus: Sequence[str]) -> None:
    await conn.execute(MARK_STOCKED, config_id, list(skus))


async def mark_owner_written(conn: Executor, config_id: str, keys: Sequence[str]) -> None:
    """Products whose custom ID is now in the shop."""
    await conn.execute(MARK_OWNER_WRITTEN, config_id, list(keys))


async def line_count_row(conn: Executor, run_id: int) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(SELECT_LINE_COUNTS, run_id)
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return row
