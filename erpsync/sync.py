"""`run_sync()`: the one place that chains the stages of a run — fetch → parse → map → plan → publish → record.

A run holds a PostgreSQL advisory lock on its config for its whole length, so one config never syncs
twice at once, whatever the number of workers. The lock dies with the process: a run found `running`
once the lock is ours belongs to a dead process and is resumed (if it was publishing) or closed (if
it had not yet sent anything).
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from erpsync import journal
from erpsync.adopt import adopt_known_skus
from erpsync.crypto import SecretBox
from erpsync.db import configs as config_store
from erpsync.db import owners as owner_store
from erpsync.db import products as store
from erpsync.db import regroup as regroup_store
from erpsync.db import run_context as context_store
from erpsync.db import runs as run_store
from erpsync.db.logs import INSERT_LOG
from erpsync.errors import ErpsyncError
from erpsync.feeds import read_records
from erpsync.locks import config_lock
from erpsync.logs import bound_run, get_logger, register_secret, scrub
from erpsync.mapping import FeedMapper
from erpsync.mapping.drafts import HASH_VERSION, MapOutcome
from erpsync.models import SyncConfig, secret_paths
from erpsync.ownership import shop_key
from erpsync.plan import Plan, classify, plan_details
from erpsync.publish import publish_run
from erpsync.run_result import Stopwatch, SyncResult
from erpsync.settings import Settings
from erpsync.shopify.client import ShopifyClient, ShopTarget, shared_session
from erpsync.shopify.shop import ensure_owner_definition, shop_facts
from erpsync.sources import open_feed
from erpsync.sources.policy import SourcePolicy
from erpsync.spool import RunSpool

__all__ = ["SyncResult", "resume_interrupted", "run_sync"]

log = get_logger("erpsync.sync")

SELECT_STATUS = "SELECT status FROM sync_runs WHERE id = $1"
SELECT_QUEUED_RUN = (
    "SELECT id FROM sync_runs WHERE config_id = $1 AND status = 'queued' AND NOT dry_run ORDER BY id LIMIT 1"
)
# Progress while reading is a committed row update: once a second is live enough for a watcher, where once
# every 5,000 rows cost 100 commits (each waiting on the WAL flush) over a 500,000-row feed.
PROGRESS_SECONDS = 1.0
ProgressHook = Callable[[dict[str, Any]], Awaitable[None]]
ClientFactory = Callable[[SyncConfig], ShopifyClient]


WORK_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES})


def default_client(settings: Settings) -> ClientFactory:
    def make(config: SyncConfig) -> ShopifyClient:
        target = ShopTarget.from_settings(settings.shopify, config.shop)
        return ShopifyClient(target, session=shared_session(target))

    return make


async def run_sync(
    settings: Settings,
    pool: asyncpg.Pool[Any],
    config_id: str,
    *,
    trigger: str = "cli",
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    run_id: int | None = None,
    client_factory: ClientFactory | None = None,
    on_progress: ProgressHook | None = None,
) -> SyncResult:
    """Run one sync of one config to its end; the result says how it went (it raises only `SyncBusy`)."""
    box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
    make_client = client_factory or default_client(settings)
    async with config_lock(pool, config_id) as conn:
        config = (await config_store.get_config(conn, box, config_id)).config
        for secret in secret_paths(config):
            register_secret(secret)

        def make_run(run_id: int, *, dry: bool) -> Run:
            return Run(
                settings,
                pool,
                conn,
                config=config,
                run_id=run_id,
                make_client=make_client,
                dry_run=dry,
                allow_mass_delete=allow_mass_delete,
                on_progress=on_progress,
            )

        if dry_run:
            # A dry run writes nothing anywhere: even its run row lives in a transaction rolled back at the end.
            transaction = conn.transaction()
            await transaction.start()
            try:
                dry_id = await run_store.create_run(conn, config_id, trigger=trigger, dry_run=True)
                with bound_run(config_id, dry_id):
                    return await make_run(dry_id, dry=True).execute()
            finally:
                await transaction.rollback()
        await resume_interrupted(settings, pool, conn, config, make_client)
        if run_id is not None and await conn.fetchval(SELECT_STATUS, run_id) != "queued":
            # A job delivered again (after a shutdown, a crash or a retry): its own run was resumed, closed or
            # failed; run the config's queued run if one waits, rather than inserting a second queued row.
            run_id = await conn.fetchval(SELECT_QUEUED_RUN, config_id)
        if run_id is None:
            run_id = await run_store.create_run(
                conn, config_id, trigger=trigger, allow_mass_delete=allow_mass_delete
            )
        with bound_run(config_id, run_id):
            return await make_run(run_id, dry=False).execute()


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
                conn, stale.id, "failed", {}, "interrupted before publishing; nothing was written"
            )
            await conn.execute(store.CLEAR_RUN_PRODUCTS, stale.id)
            return None
        log.info("resuming an interrupted run", operations=len(stale.bulk_operations))
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


class Run:
    """The stages of one run, in order; state kept in PostgreSQL at every step that matters."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool[Any],
        conn: asyncpg.Connection[Any],
        *,
        config: SyncConfig,
        run_id: int,
        make_client: ClientFactory,
        dry_run: bool,
        allow_mass_delete: bool,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.conn = conn
        self.config = config
        self.run_id = run_id
        self.make_client = make_client
        self.dry_run = dry_run
        self.allow_mass_delete = allow_mass_delete
        self.on_progress = on_progress
        self.counts: dict[str, Any] = {}
        self.rewrite_all = (
            False  # a dry run that sees the write context changed: every product would be written
        )
        self.location_id: str | None = None  # where stock is written: the config's, else the shop's primary
        self.unchanged_unlisted = 0  # unchanged products that got no `run_products` row
        self.unmatched: list[str] = []  # hashes this config last wrote that no feed product matched
        self.stopwatch = Stopwatch()
        self.work_dir = Path(settings.sync.work_dir) / "runs" / str(run_id)
        self.spool_path = self.work_dir / "inputs.jsonl"

    async def stage(self, name: str) -> None:
        finished, seconds = self.stopwatch.enter(name)
        if finished:
            await run_store.set_stage(self.conn, self.run_id, name, finished=finished, seconds=seconds)
        log.info("stage", stage=name)

    async def progress(self, values: dict[str, Any]) -> None:
        await run_store.set_progress(self.conn, self.run_id, values)
        if self.on_progress is not None:
            await self.on_progress(values)

    async def execute(self) -> SyncResult:
        await run_store.start_run(self.conn, self.run_id)
        self.stopwatch.enter("fetch")
        try:
            client = self.make_client(self.config)
        except ErpsyncError as exc:
            return await self.fail(str(exc), retryable=exc.retryable)
        try:
            return await self._stages(client)
        except ErpsyncError as exc:
            return await self.fail(str(exc), retryable=exc.retryable)
        except OSError as exc:
            if exc.errno not in WORK_DISK_ERRNOS:
                raise
            # The work directory is full or refuses writes: nothing more can be spooled or uploaded.
            # Not retried on its own: someone has to make room; the next scheduled run tries again.
            return await self.fail(f"cannot write to the work directory {self.settings.sync.work_dir}: {exc}")
        except asyncio.CancelledError:
            await asyncio.shield(self.stopped())
            raise
        finally:
            await client.aclose()

    async def stopped(self) -> None:
        """Shut down mid-run: a run that sent nothing is closed; one that is publishing stays to resume."""
        if self.stopwatch.stage == "publish" or self.dry_run:
            return
        try:
            await run_store.finish_run(self.conn, self.run_id, "canceled", self.counts, "stopped by shutdown")
            await self.conn.execute(store.CLEAR_RUN_PRODUCTS, self.run_id)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Left `running`: the next start closes it as interrupted, which is as accurate.
            log.warning("could not close the stopped run", error=str(exc))

    async def fail(self, reason: str, *, retryable: bool = False) -> SyncResult:
        reason = scrub(reason)
        log.error("sync failed", error=reason)
        self.stopwatch.enter("")
        self.counts["seconds"] = self.stopwatch.timings
        await run_store.finish_run(self.conn, self.run_id, "failed", self.counts, reason)
        await self.conn.execute(
            INSERT_LOG, self.config.id, self.run_id, "error", None, f"sync failed: {reason}", None
        )
        if not self.dry_run:
            await self.conn.execute(store.CLEAR_RUN_PRODUCTS, self.run_id)
        shutil.rmtree(self.work_dir, ignore_errors=True)  # a failed run is not resumed: its files are dead
        return SyncResult(self.run_id, "failed", self.counts, error=reason, retryable=retryable)

    async def _stages(self, client: ShopifyClient) -> SyncResult:
        facts = await shop_facts(client)
        location_id = self.config.location_id or facts.primary_location_id
        self.location_id = location_id
        await self.settle_context(location_id=location_id, currency=facts.currency)
        outcome = await self.read_feed(location_id)
        if outcome.products == 0 and outcome.rows == 0:
            log.warning("the feed has no rows")
        await self.stage("adopt")
        await self.claim()
        rekeys = await regroup_store.rekey_regrouped(
            self.conn,
            run_id=self.run_id,
            config_id=self.config.id,
            rejected_keys=sorted(outcome.rejected_keys),
        )
        if rekeys:
            log.info("regrouped products keep their shop product", products=len(rekeys))
            self.counts["regrouped"] = len(rekeys)
        self.counts["adopted"] = await adopt_known_skus(
            self.conn,
            client,
            config_id=self.config.id,
            run_id=self.run_id,
            location_id=location_id,
            sku_lookup_limit=self.settings.sync.sku_lookup_limit,
        )
        await self.stage("plan")
        plan = await classify(
            self.conn,
            run_id=self.run_id,
            config_id=self.config.id,
            delete_policy=self.config.delete_policy,
            rejected_keys=outcome.rejected_keys,
            rejected_skus=outcome.rejected_skus,
            max_fraction=(
                self.config.max_delete_fraction
                if self.config.max_delete_fraction is not None
                else self.settings.sync.max_delete_fraction
            ),
            allow_mass_delete=self.allow_mass_delete,
            unchanged_unlisted=self.unchanged_unlisted,
            unmatched=self.unmatched,
        )
        await store.load_inputs(self.conn, self.run_id, self.spool_path)
        await run_store.set_plan(self.conn, self.run_id, plan.as_json())
        await journal.planned(self.conn, self.config.id, self.run_id, plan)
        await self.progress({"products_planned": plan.creates + plan.updates + plan.unchanged})
        if self.dry_run:
            details = await plan_details(self.conn, run_id=self.run_id, config_id=self.config.id)
            self.stopwatch.enter("")
            return SyncResult(self.run_id, "dry_run", self._counts(plan), plan.as_json(), details=details)
        await self.stage("publish")
        unmarked = int(await self.conn.fetchval(store.COUNT_UNMARKED, self.config.id))
        if plan.creates + plan.updates + unmarked:
            await ensure_owner_definition(client)
        return await self.finish_publishing([], plan, client=client)

    async def settle_context(self, *, location_id: str, currency: str) -> None:
        """What decides every product's write besides its content; a change writes each product once."""
        context = {
            "hash_version": HASH_VERSION,
            "location_id": location_id,
            "currency": currency,
            "mapped": sorted(self.config.mapping),
        }
        if self.dry_run:
            previous = await context_store.read_context(self.conn, self.config.id)
            if previous is not None and previous != context:
                # Inside the dry run's transaction, rolled back: shows every product as an update.
                await self.conn.execute(context_store.FORGET_HASHES, self.config.id)
        else:
            previous = await context_store.swap_context(self.conn, self.config.id, context)
        await journal.context_changed(self.conn, self.config.id, self.run_id, previous, context)

    async def claim(self) -> None:
        """Claim the run's SKUs for this config; a SKU another config owns makes its product a conflict."""
        conflicts = await owner_store.claim_skus(
            self.conn,
            run_id=self.run_id,
            config_id=self.config.id,
            shop=shop_key(self.config),
            dry_run=self.dry_run,
        )
        if conflicts:
            self.counts["conflicts"] = len({conflict.product_key for conflict in conflicts})
            await journal.conflicts(self.conn, self.config.id, self.run_id, conflicts)

    async def finish_publishing(
        self,
        entries: list[dict[str, Any]],
        plan: Plan,
        *,
        client: ShopifyClient | None = None,
        resuming: bool = False,
    ) -> SyncResult:
        """Publish (or resume) the run's steps, then close the run with its counts and outcome."""
        own_client = client is None
        active = client or self.make_client(self.config)
        try:
            entries = await publish_run(
                self.conn,
                self.pool,
                active,
                run_id=self.run_id,
                config_id=self.config.id,
                entries=entries,
                directory=self.work_dir,
                concurrency=self.settings.sync.bulk_concurrency,
                send_handle="handle" in self.config.mapping,
                on_progress=self.on_progress,
                resuming=resuming,
                location_id=self.location_id,
                export_above=self.settings.sync.sku_lookup_limit,
            )
        except ErpsyncError as exc:
            return await self.fail(f"publishing failed: {exc}")
        finally:
            if own_client:
                await active.aclose()
        self.stopwatch.enter("")
        counts = self._counts(plan)
        counts.update(await store.outcome_summary(self.conn, self.run_id))
        counts["bulk_operations"] = len(entries)
        counts["shopify_cost"] = round(active.stats.cost, 1)
        counts["seconds"] = self.stopwatch.timings
        failed = counts["failed"] + counts["unknown"] + counts.get("conflicts", 0)
        status = "partial" if failed else ("needs_attention" if plan.guard.reason else "succeeded")
        if failed and plan.guard.reason:
            status = "needs_attention"
        await owner_store.release_stale_claims(self.conn, run_id=self.run_id, config_id=self.config.id)
        await run_store.finish_run(self.conn, self.run_id, status, counts, plan.guard.reason)
        await self.conn.execute(store.CLEAR_RUN_PRODUCTS, self.run_id)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        log.info("sync finished", status=status, **{k: v for k, v in counts.items() if k != "seconds"})
        return SyncResult(self.run_id, status, counts, plan.as_json(), error=plan.guard.reason)

    def _counts(self, plan: Plan) -> dict[str, Any]:
        counts = dict(self.counts)
        counts.update(
            planned_create=plan.creates,
            planned_update=plan.updates,
            unchanged=plan.unchanged,
            planned_removal=plan.removals,
        )
        return counts

    async def read_feed(self, location_id: str | None) -> MapOutcome:
        """Fetch, parse and map in one stream, each product kept by a `RunSpool` as it comes."""
        await self.conn.execute(store.CLEAR_RUN_PRODUCTS, self.run_id)
        # About 100 bytes a tracked product in memory; the classification itself stays in SQL.
        spool = RunSpool(
            self.conn,
            run_id=self.run_id,
            path=self.spool_path,
            known=await store.known_hashes(self.conn, self.config.id),
            mapped=frozenset(self.config.mapping),
            location_id=location_id,
            dry_run=self.dry_run,
        )
        next_report = time.monotonic()  # the first batch is shown at once, then once a second
        try:
            policy = SourcePolicy.of(self.settings.sync)
            async with open_feed(self.config, policy=policy) as stream:
                mapper = FeedMapper(self.config, feed=stream.name)
                async for records in read_records(
                    stream,
                    name=stream.name,
                    format=self.config.format,
                    options=self.config.format_options,
                    max_rows=self.settings.sync.max_feed_rows,
                    max_bytes=self.settings.sync.max_feed_bytes,
                ):
                    await spool.keep(mapper.map_batch(records))
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + PROGRESS_SECONDS
                        await self.progress({"rows_read": mapper.rows, "products_mapped": spool.ordinal})
                await spool.keep(mapper.finish())
                info = stream.info()
        finally:
            spool.close()
        await spool.finish()
        self.unchanged_unlisted = spool.unchanged_unlisted
        self.unmatched = spool.unmatched
        ordinal = spool.ordinal
        outcome = mapper.outcome()
        await run_store.set_feed(self.conn, self.run_id, info.sha256, info.size)
        await self.progress({"rows_read": outcome.rows, "products_mapped": ordinal})
        self.counts.update(
            rows_read=outcome.rows,
            rows_rejected=outcome.rejected_rows,
            products=outcome.products,
            variants=outcome.variants,
            feed_bytes=info.size,
        )
        await journal.row_errors(self.conn, self.config.id, self.run_id, outcome.errors, feed=info.name)
        return outcome
