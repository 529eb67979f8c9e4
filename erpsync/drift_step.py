"""The run's look at the shop before it reads the feed: the incremental drift check every run, or the
whole-shop reconcile when the run is one.

It comes once the feed check is done (so the Shopify client is imported only then) and before the feed is
read: what it settles changes the last-written states the plan compares the feed with. An unchanged feed
whose check finds nothing to write still ends `unchanged`; one with drift to write goes on as a full run.
A failed incremental check does not stop the run: it is logged, and since the run is not marked checked
the next run's window starts where this one's did. A reconcile that fails fails its run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from erpsync.drift import Tally
from erpsync.drift_check import check_drift
from erpsync.logs import get_logger
from erpsync.reconcile import reconcile_shop
from erpsync.shopify.errors import ShopifyError

if TYPE_CHECKING:
    from erpsync.sync import Run

log = get_logger("erpsync.drift")


def shop_of(run: Run) -> str:
    """The shop's domain, as `/metrics` labels it."""
    return run.config.shop.shop if run.config.shop is not None else run.settings.shopify.shop


async def look_at_shop(run: Run) -> Tally | None:
    """Drift (or, for a reconcile run, the whole shop) settled per `drift_policy`; None for a dry run that
    is no reconcile (a dry run plans from the stored state, as before) and for a check that failed."""
    if run.dry_run and not run.reconcile:
        return None
    client = run.client = run.client or run.make_client(run.config)
    sync = run.settings.sync
    if run.reconcile:
        tally = await reconcile_shop(
            run.conn, client, config=run.config, run_id=run.run_id, shop=shop_of(run),
            max_fraction=sync.max_delete_fraction if run.config.max_delete_fraction is None
            else run.config.max_delete_fraction,
            allow_mass_delete=run.allow_mass_delete,
        )  # fmt: skip
        tally.extra["shop"] = shop_of(run)
        run.counts["reconcile"] = tally.as_counts()
        return tally
    try:
        tally = await check_drift(
            run.conn, client, config=run.config, run_id=run.run_id, shop=shop_of(run),
            overlap_seconds=sync.drift_overlap_seconds, export_above=sync.sku_lookup_limit,
        )  # fmt: skip
    except ShopifyError as exc:
        log.warning("the drift check failed; the next run checks this run's window too", error=str(exc))
        run.counts["drift"] = {"error": str(exc)}
        return None
    if tally.compared or tally.deleted or tally.extra:
        tally.extra["shop"] = shop_of(run)
        run.counts["drift"] = tally.as_counts()
    return tally
