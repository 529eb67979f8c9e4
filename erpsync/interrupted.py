"""A run left `running` by a dead process: resumed where it was publishing, else closed as failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync.constants import RunStatus
from erpsync.db import products as store
from erpsync.db import runs as run_store
from erpsync.logs import bound_run, get_logger
from erpsync.models import SyncConfig
from erpsync.plan import Plan
from erpsync.run_result import SyncResult
from erpsync.settings import Settings

if TYPE_CHECKING:
    from erpsync.shopify.client import ClientFactory

log = get_logger("erpsync.sync")


async def resume_interrupted(
    settings: Settings,
    pool: asyncpg.Pool[Any],
    conn: asyncpg.Connection[Any],
    config: SyncConfig,
    make_client: ClientFactory,
) -> SyncResult | None:
    """Finish a run left `running` by a dead process: poll its operations and record their results."""
    stale = await run_store.get_running(conn, config.id)
    if stale is None:
        return None
    with bound_run(config.id, stale.id):
        if stale.stage != "publish" or not stale.bulk_operations:
            log.warning("closing a run interrupted before it wrote anything", stage=stale.stage)
            await run_store.finish_run(
                conn, stale.id, RunStatus.FAILED, {}, "interrupted before publishing; nothing was written"
            )
            await store.clear_run_products(conn, stale.id)
            return None
        log.info("resuming an interrupted run", operations=len(stale.bulk_operations))
        from erpsync.sync import Run  # the engine imports this module: resolved at call time

        run = Run(
            settings,
            pool,
            conn,
            config=config,
            run_id=stale.id,
            make_client=make_client,
            dry_run=False,
            allow_mass_delete=stale.allow_mass_delete,
        )
        run.counts.update(stale.counts)
        run.stopwatch.timings.update(stale.timings)
        # Publishing again: a failure journals what was sent, a shutdown leaves the run to resume.
        run.stopwatch.enter("publish")
        plan = Plan(**_plan_fields(stale.plan))
        return await run.finish_publishing(stale.bulk_operations, plan, resuming=True)


def _plan_fields(plan: dict[str, Any] | None) -> dict[str, Any]:
    if not plan:
        return {}
    return {
        "creates": plan.get("create", 0),
        "updates": plan.get("update", 0),
        "unchanged": plan.get("unchanged", 0),
        "conflicts": plan.get("conflict", 0),
        "held": plan.get("held", 0),
    }
