"""What a run publishes on its sales channels and takes off them (raw SQL over `run_products`).

Read after the run's writes are recorded, before `run_products` is cleared; see erpsync/publications.py.
"""

from __future__ import annotations

import asyncpg

from erpsync.db.pool import Executor

# Products that leave `archive`/`draft` in this run: read before the run records them active again.
SELECT_REVIVED = """
SELECT rp.product_key FROM run_products rp
JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.action = 'update' AND ps.state IN ('archived', 'draft')
"""
COUNT_CHANNEL_WORK = (
    "SELECT count(*) FROM run_products WHERE run_id = $1 AND action IN ('create', 'archive', 'draft')"
)
SELECT_TO_PUBLISH = """
SELECT rp.product_key, ps.shopify_product_id FROM run_products rp
JOIN product_states ps ON ps.config_id = $2 AND ps.product_key = rp.product_key
WHERE rp.run_id = $1 AND rp.outcome = 'ok' AND (rp.action = 'create' OR rp.product_key = ANY($3::text[]))
ORDER BY rp.product_key
"""
SELECT_TO_UNPUBLISH = """
SELECT product_key, shopify_product_id FROM run_products
WHERE run_id = $1 AND outcome = 'ok' AND action IN ('archive', 'draft') AND shopify_product_id IS NOT NULL
ORDER BY product_key
"""


async def revived_products(conn: Executor, run_id: int, config_id: str) -> list[str]:
    """The keys of the run's updates to products now archived or drafted: they come back to the channels."""
    return [str(row["product_key"]) for row in await conn.fetch(SELECT_REVIVED, run_id, config_id)]


async def has_channel_work(conn: Executor, run_id: int) -> bool:
    """Whether the run creates, archives or drafts anything."""
    return bool(await conn.fetchval(COUNT_CHANNEL_WORK, run_id))


async def products_to_publish(
    conn: Executor, run_id: int, config_id: str, revived: list[str]
) -> list[asyncpg.Record]:
    """(product_key, shopify_product_id) of the products the run created or revived, once written."""
    return list(await conn.fetch(SELECT_TO_PUBLISH, run_id, config_id, revived))


async def products_to_unpublish(conn: Executor, run_id: int) -> list[asyncpg.Record]:
    """(product_key, shopify_product_id) of the products the run archived or drafted."""
    return list(await conn.fetch(SELECT_TO_UNPUBLISH, run_id))
