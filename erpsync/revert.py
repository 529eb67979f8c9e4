"""Revert a run: its inverse, built from its journal, executed as an ordinary run of the same config.

`erpsync runs revert RUN_ID` and `POST /runs/{id}/revert` start a run with trigger `revert` naming the run
it reverts (`sync_runs.reverts_run_id`). Instead of fetching and mapping a feed, its first stage turns the
reverted run's journal into run rows (`erpsync.revert_checks`: what can be put back, and what is left
alone, with why); from there it is any run: SKUs claimed, the delete guard (a created product removed
counts like any removal), field-level changes and the lightest write, publish, record, journal, resume
after a crash, and a dry run that writes nothing.

What the next sync does: erpsync's memory of each reverted product (its last-written input and hash) is
as it was before the reverted run, and a revert is no run that makes the next sync read its feed again
(`erpsync.db.fingerprints`). So a feed whose bytes did not change ends `unchanged` and the revert stays;
any run that reads the feed (it changed, the config was edited, an earlier run is retried) applies it as
usual, the reverted products included where the feed still differs from them. Disable the config before
reverting while its feed is still wrong.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync import journal
from erpsync.constants import RunStatus
from erpsync.db import products as store
from erpsync.db import regroup as regroup_store
from erpsync.db import revert as revert_store
from erpsync.db import runs as run_store
from erpsync.db.logs import add_logs
from erpsync.db.pool import Executor
from erpsync.errors import ErpsyncError
from erpsync.models import SyncConfig
from erpsync.plan import Plan, check_deletes, plan_details, plan_writes
from erpsync.revert_checks import LOGGED, SkipReport, build_inverse, check_shop
from erpsync.run_result import SyncResult
from erpsync.run_steps import claim
from erpsync.sync import Run
from erpsync.variant_cap import hold_creates

# A run that never ended cannot be reverted yet; one that ended can, whatever its outcome (a failed or
# partial run's journal holds what it did write).
UNFINISHED = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


class RevertRefused(ErpsyncError):
    """A run that cannot be reverted; `code` names why (the API's error code: `not_found` is a 404, the
    others 409; the CLI's exit status follows it too)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = 404 if code == "not_found" else 409


async def check_revertible(conn: Executor, run_id: int) -> revert_store.Target:
    """The run to revert, or `RevertRefused` saying in one line why it cannot be."""
    target = await revert_store.revert_target(conn, run_id)
    if target is None:
        raise RevertRefused(f"no run with id {run_id}", code="not_found")
    if not target.config_exists:
        raise RevertRefused(
            f"run {run_id} belongs to config {target.config_id!r}, which no longer exists: nothing to revert it in",
            code="not_found",
        )
    if target.dry_run:
        raise RevertRefused(f"run {run_id} is a dry run: it wrote nothing to revert", code="is_dry_run")
    if target.status in UNFINISHED:
        raise RevertRefused(
            f"run {run_id} of {target.config_id!r} has not finished ({target.status}): revert it once it has",
            code="run_not_finished",
        )
    if target.reverted_by is not None:
        raise RevertRefused(
            f"run {run_id} was reverted already, by run {target.reverted_by}", code="already_reverted"
        )
    if not target.wrote:
        raise RevertRefused(
            f"run {run_id} of {target.config_id!r} ended {target.status} and wrote nothing: nothing to revert",
            code="nothing_to_revert",
        )
    return target


class RevertRun(Run):
    """A run whose products come from another run's journal, not from the feed."""

    async def _stages(self) -> SyncResult:
        from erpsync.shopify.shop import ensure_owner_definition, shop_facts

        reverted = await run_store.reverted_run(self.conn, self.run_id)
        assert reverted is not None  # made by `run_sync(reverts_run_id=…)`
        client = self.client = self.make_client(self.config)
        facts = await shop_facts(client)
        location_id = self.location_id = self.config.location_id or facts.primary_location_id
        report = SkipReport(self.config.id, self.run_id, reverted)
        await store.clear_run_products(self.conn, self.run_id)
        await build_inverse(
            self.conn, run_id=self.run_id, reverted=reverted, config=self.config, report=report
        )
        await check_shop(
            self.conn, client, run_id=self.run_id, reverted=reverted, config=self.config, location_id=location_id,
            export_above=self.settings.sync.sku_lookup_limit, report=report,
        )  # fmt: skip
        self.counts.update(report.counts())
        await report.log(self.conn)
        await self.stage("plan")
        if conflicts := await claim(self.conn, self.config, self.run_id, dry_run=self.dry_run):
            self.counts["conflicts"] = conflicts
        plan = await plan_revert(
            self.conn, run_id=self.run_id, reverted=reverted, config=self.config,
            allow_mass_delete=self.allow_mass_delete,
            max_fraction=(
                self.config.max_delete_fraction
                if self.config.max_delete_fraction is not None
                else self.settings.sync.max_delete_fraction
            ),
        )  # fmt: skip
        plan.write_kinds = await plan_writes(
            self.conn,
            self.run_id,
            self.config.id,
            self.settings.sync,
            maps_handle="handle" in self.config.mapping,
        )
        await run_store.set_plan(self.conn, self.run_id, plan.as_json())
        await journal.planned(self.conn, self.config.id, self.run_id, plan)
        await self.progress({"products_planned": plan.creates + plan.updates + plan.removals})
        if self.dry_run:
            details = await plan_details(self.conn, run_id=self.run_id, config_id=self.config.id)
            details["skipped"] = report.listed
            self.stopwatch.enter("")
            return SyncResult(
                self.run_id, RunStatus.DRY_RUN, self._counts(plan), plan.as_json(), details=details
            )
        await self.stage("publish")
        await hold_creates(self.conn, self.config.id, self.run_id)
        if plan.creates + plan.updates:
            await ensure_owner_definition(client)
        return await self.finish_publishing([], plan, client=client)


async def plan_revert(
    conn: asyncpg.Connection[Any],
    *,
    run_id: int,
    reverted: int,
    config: SyncConfig,
    max_fraction: float,
    allow_mass_delete: bool,
) -> Plan:
    """The revert's plan: its rows counted, and the delete guard over its removals (the products the
    reverted run created) and the variants its updates remove (those the reverted run added)."""
    await regroup_store.mark_takers(conn, run_id=run_id, config_id=config.id)
    removed_variants = await regroup_store.variant_removals(conn, run_id=run_id, config_id=config.id)
    counts = await store.action_counts(conn, run_id)
    removals = await revert_store.count_removals(conn, run_id)
    plan = Plan(
        creates=counts.get("create", 0),
        updates=counts.get("update", 0),
        conflicts=counts.get("conflict", 0),
        removal_action=config.delete_policy,
        tracked=await store.count_tracked(conn, config.id),
    )
    plan.variant_removals = sum(map(len, removed_variants.values()))
    plan.guard = check_deletes(
        deletions=removals,
        tracked=plan.tracked,
        valid_products=max(1, plan.tracked),  # not a feed: "no valid product" never applies
        max_fraction=max_fraction,
        allow_mass_delete=allow_mass_delete,
        variant_removals=plan.variant_removals,
        tracked_variants=await regroup_store.count_tracked_variants(conn, config.id)
        if removed_variants
        else 0,
    )
    verb = "removed by the revert" if plan.guard.allowed else "not removed (the revert is held back)"
    await add_logs(
        conn,
        [
            (config.id, run_id, "warning", sku, f"variant {sku} of product {key} was added by run {reverted}: {verb}",
             {"product_key": key})
            for key, skus in removed_variants.items()
            for sku in skus
        ][:LOGGED],
    )  # fmt: skip
    if plan.guard.allowed:
        plan.removals = removals
        return plan
    reason = f"not reverted: the delete guard holds the revert back ({plan.guard.reason})"
    held = sorted({*await revert_store.removal_keys(conn, run_id), *removed_variants})
    await regroup_store.hold_writes(conn, run_id=run_id, keys=held, reason=reason)
    plan.held = len(removed_variants)
    plan.updates -= plan.held
    return plan
