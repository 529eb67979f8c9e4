"""What a config's products were last written with besides their content (location, currency, mapping).

A change to any of it changes what every product's write would be, so the run that sees it forgets the
stored content hashes — each product is written once — and stores the new context.
"""

from __future__ import annotations

from typing import Any

import asyncpg

SELECT_CONTEXT = "SELECT context FROM config_states WHERE config_id = $1"
UPSERT_CONTEXT = """
INSERT INTO config_states (config_id, context_hash, context, updated_at) VALUES ($1, $2, $3, now())
ON CONFLICT (config_id) DO UPDATE
SET context_hash = EXCLUDED.context_hash, context = EXCLUDED.context, updated_at = now()
"""
# Shopify takes stock for an existing variant only where it is stocked: after a location change, none is
# known to be stocked at the new one (https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet).
MARK_UNSTOCKED = "UPDATE products SET stocked = false WHERE config_id = $1 AND stocked"
FORGET_HASHES = (
    "UPDATE product_states SET content_hash = NULL WHERE config_id = $1 AND content_hash IS NOT NULL"
)


async def read_context(conn: asyncpg.Connection[Any], config_id: str) -> dict[str, Any] | None:
    """The stored context alone: a dry run compares with it and locks no row a real run writes."""
    stored: dict[str, Any] | None = await conn.fetchval(SELECT_CONTEXT, config_id)
    return stored


async def swap_context(
    conn: asyncpg.Connection[Any], config_id: str, context: dict[str, Any]
) -> dict[str, Any] | None:
    """Store `context`; return the one stored before (None the first time). On a change, in the same
    transaction, every product's stored hash is forgotten so that the run writes it once."""
    async with conn.transaction():
        previous: dict[str, Any] | None = await conn.fetchval(SELECT_CONTEXT, config_id)
        if previous == context:
            return previous
        if previous is not None:
            await conn.execute(FORGET_HASHES, config_id)
            if previous.get("location_id") != context.get("location_id"):
                await conn.execute(MARK_UNSTOCKED, config_id)
        digest = repr(sorted(context.items()))
        await conn.execute(UPSERT_CONTEXT, config_id, digest, context)
    return previous


async def forget_hashes(conn: asyncpg.Connection[Any], config_id: str) -> None:
    """Every product of the config is written once more (a dry run does this inside its rollback)."""
    await conn.execute(FORGET_HASHES, config_id)
