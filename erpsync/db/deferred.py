"""`run_products` refused by the shop's daily variant creation cap: how many products and variants wait."""

from __future__ import annotations

from erpsync.db.pool import Executor

# The cap's text, lower-cased, as Shopify words it ("Daily variant creation limit reached. Please try
# again later."); record.py stores a refused line's message on its product.
CAP_TEXT = "daily variant creation limit"

COUNT_CAPPED = """
SELECT count(*) AS products, coalesce(sum(cardinality(skus)), 0) AS variants
FROM run_products
WHERE run_id = $1 AND outcome = 'failed' AND strpos(lower(message), $2) > 0
"""


async def count_capped(conn: Executor, run_id: int) -> tuple[int, int]:
    """Products of the run the cap refused, and their variants (an upper bound for updates)."""
    row = await conn.fetchrow(COUNT_CAPPED, run_id, CAP_TEXT)
    if row is None:
        return 0, 0
    return int(row["products"]), int(row["variants"])


# A config whose run met the cap earlier this UTC day: its new products wait for tomorrow unsent.
CAPPED_TODAY = """
SELECT EXISTS (
    SELECT 1 FROM sync_runs
    WHERE config_id = $1 AND id <> $2 AND counts ? 'deferred_products'
      AND finished_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
)
"""
HOLD_CREATES = """
UPDATE run_products SET outcome = 'failed', message = $2
WHERE run_id = $1 AND action = 'create' AND phase = 1 AND outcome IS NULL
"""


async def hold_creates_if_capped_today(conn: Executor, config_id: str, run_id: int, message: str) -> int:
    """Mark the run's creates as held (not sent) when the config met the cap earlier today; how many."""
    if not await conn.fetchval(CAPPED_TODAY, config_id, run_id):
        return 0
    status = await conn.execute(HOLD_CREATES, run_id, message)
    return int(status.rsplit(" ", 1)[-1])
