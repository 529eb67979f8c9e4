"""Steps of a run that touch only PostgreSQL (settling the write context, claiming the feed's SKUs), and the
Shopify client a run makes only once it has work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync import journal
from erpsync.db import owners as owner_store
from erpsync.db import run_context as context_store
from erpsync.mapping.drafts import HASH_VERSION
from erpsync.models import SyncConfig
from erpsync.ownership import shop_key
from erpsync.settings import Settings

if TYPE_CHECKING:
    from erpsync.shopify.client import ClientFactory, ShopifyClient


def lazy_client_factory(settings: Settings) -> ClientFactory:
    """The real Shopify client; its module (aiohttp, TLS) is imported when a run first makes one, so that
    a run that ends `unchanged` never pays for it."""

    def make(config: SyncConfig) -> ShopifyClient:
        from erpsync.shopify.client import default_client

        return default_client(settings)(config)

    return make


async def settle_context(
    conn: asyncpg.Connection[Any],
    config: SyncConfig,
    run_id: int,
    *,
    dry_run: bool,
    location_id: str,
    currency: str,
) -> None:
    """What decides every product's write besides its content; a change writes each product once."""
    context = {
        "hash_version": HASH_VERSION,
        "location_id": location_id,
        "currency": currency,
        "mapped": sorted(config.mapping),
    }
    if dry_run:
        previous = await context_store.read_context(conn, config.id)
        if previous is not None and previous != context:
            # Inside the dry run's transaction, rolled back: shows every product as an update.
            await conn.execute(context_store.FORGET_HASHES, config.id)
    else:
        previous = await context_store.swap_context(conn, config.id, context)
    await journal.context_changed(conn, config.id, run_id, previous, context)


async def claim(conn: asyncpg.Connection[Any], config: SyncConfig, run_id: int, *, dry_run: bool) -> int:
    """Claim the run's SKUs for this config; a SKU another config owns makes its product a conflict.
    The number of products in conflict."""
    conflicts = await owner_store.claim_skus(
        conn, run_id=run_id, config_id=config.id, shop=shop_key(config), dry_run=dry_run
    )
    if conflicts:
        await journal.conflicts(conn, config.id, run_id, conflicts)
    return len({conflict.product_key for conflict in conflicts})
