"""Steps of a run that touch only PostgreSQL (settling the write context, claiming the feed's SKUs, the
published run's counts and outcome), and the Shopify client a run makes only once it has work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync import journal
from erpsync.constants import HASH_VERSION, RunStatus
from erpsync.db import owners as owner_store
from erpsync.db import products as store
from erpsync.db import run_context as context_store
from erpsync.models import SyncConfig
from erpsync.outcome import run_status
from erpsync.ownership import shop_key
from erpsync.settings import Settings
from erpsync.variant_cap import record_deferred

if TYPE_CHECKING:
    from erpsync.plan import Plan
    from erpsync.shopify.client import ClientFactory, ShopifyClient
    from erpsync.sync import Run


def lazy_client_factory(settings: Settings) -> ClientFactory:
    """The real Shopify client; its module (aiohttp, TLS) is imported when a run first makes one, so that
    a run that ends `unchanged` never pays for it."""

    def make(config: SyncConfig) -> ShopifyClient:
        from erpsync.shopify.client import default_client

        return default_client(settings)(config)

    return make


def run_kind(reverts_run_id: int | None) -> type[Run]:
    """An ordinary run, or a revert of run `reverts_run_id`: a run whose products come from that run's
    journal instead of the feed (imported only then: it builds on the engine)."""
    if reverts_run_id is None:
        from erpsync.sync import Run

        return Run
    from erpsync.revert import RevertRun

    return RevertRun


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
            await context_store.forget_hashes(conn, config.id)
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


async def published_outcome(
    conn: asyncpg.Connection[Any],
    settings: Settings,
    config_id: str,
    run_id: int,
    *,
    plan: Plan,
    counts: dict[str, Any],
    published: dict[str, Any],
    operations: int,
    cost: float,
    timings: dict[str, float],
) -> tuple[RunStatus, dict[str, Any], str | None]:
    """A published run's status, counts and reason: what its lines did, what waits for another day (the
    daily variant cap) and what the guard held back."""
    from erpsync.record import line_counts

    counts.update(await store.outcome_summary(conn, run_id))
    counts.update(await line_counts(conn, run_id))  # bulk result lines: retried, mismatched
    deferred = await record_deferred(conn, config_id, run_id, counts, settings.sync)
    counts.update(published)
    counts["bulk_operations"] = operations
    counts["shopify_cost"] = round(cost, 1)
    counts["seconds"] = timings
    failed = counts["failed"] + counts["unknown"] + counts["stock_failed"] + counts.get("conflicts", 0)
    status = run_status(
        failed=failed + int(bool(deferred)),
        rows_rejected=int(counts.get("rows_rejected") or 0),
        guard_reason=plan.guard.reason,
    )
    return status, counts, plan.guard.reason or (deferred.reason if deferred else None)
