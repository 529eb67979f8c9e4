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
