"""`run_sync()`: the one place that chains the stages of a run — fetch → parse → map → plan → publish → record.

A run holds a PostgreSQL advisory lock on its config for its whole length, so one config never syncs twice
at once, whatever the number of workers. The lock dies with the process: a run found `running` once the
lock is ours belongs to a dead process and is resumed (if it was publishing) or closed (if not yet).
"""

from __future__ import annotations

import asyncio
import errno
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync import journal
from erpsync.constants import RunStatus
from erpsync.crypto import SecretBox
from erpsync.db import configs as config_store
from erpsync.db import fingerprints as fingerprint_store
from erpsync.db import owners as owner_store
from erpsync.db import products as store
from erpsync.db import regroup as regroup_store
from erpsync.db import runs as run_store
from erpsync.db.changes import journal_and_clear
from erpsync.db.logs import add_log
from erpsync.errors import ErpsyncError
from erpsync.interrupted import resume_interrupted
from erpsync.locks import config_lock
from erpsync.logs import bound_run, get_logger, register_secret, scrub
from erpsync.models import SyncConfig, secret_paths
from erpsync.outcome import map_counts, no_product_reason
from erpsync.plan import Plan, classify, plan_details, plan_writes
from erpsync.run_result import Stopwatch, SyncResult
from erpsync.run_steps import claim, lazy_client_factory, published_outcome, run_kind, settle_context
from erpsync.settings import Settings
from erpsync.sources import FeedInfo
from erpsync.unchanged import Verdict, check_feed, config_version, finish_unchanged, settled
from erpsync.variant_cap import hold_creates

if TYPE_CHECKING:  # the Shopify side (aiohttp, TLS) is imported once a run has something to send
    from erpsync.mapping.drafts import MapOutcome
    from erpsync.shopify.client import ClientFactory, ShopifyClient

__all__ = ["SyncResult", "resume_interrupted", "run_sync"]

log = get_logger("erpsync.sync")

ProgressHook = Callable[[dict[str, Any]], Awaitable[None]]


WORK_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES})


async def run_sync(
    settings: Settings,
    pool: asyncpg.Pool[Any],
    config_id: str,
    *,
    trigger: str = "cli",
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    run_id: int | None = None,
    reverts_run_id: int | None = None,
    client_factory: ClientFactory | None = None,
    on_progress: ProgressHook | None = None,
    reconcile: bool = False,
) -> SyncResult:
    """Run one sync of one config to its end; the result says how it went (it raises only `SyncBusy`).
    `reverts_run_id`: the run is a revert of that run (`erpsync.revert`); `reconcile`: the run reads the
    whole shop first (a queued run says so itself)."""
    box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
    make_client = client_factory or lazy_client_factory(settings)
    async with config_lock(pool, config_id) as conn:
        stored = await config_store.get_config(conn, box, config_id)
        config = stored.config
        for secret in secret_paths(config):
            register_secret(secret)

        def make_run(run_id: int, *, dry: bool) -> Run:
            return run_kind(reverts_run_id)(
                settings,
                pool,
                conn,
                config=config,
                run_id=run_id,
                make_client=make_client,
                dry_run=dry,
                allow_mass_delete=allow_mass_delete,
                on_progress=on_progress,
                version=config_version(settings, config, stored.updated_at),
                reconcile=reconcile,
            )

        if dry_run:
            # A dry run writes nothing anywhere: even its run row lives in a transaction rolled back at the end.
            transaction = conn.transaction()
            await transaction.start()
            try:
                dry_id = await run_store.create_run(
                    conn, config_id, trigger=trigger, dry_run=True, reverts_run_id=reverts_run_id, reconcile=reconcile
                )  # fmt: skip
                with bound_run(config_id, dry_id):
                    return await make_run(dry_id, dry=True).execute()
            finally:
                await transaction.rollback()
        await resume_interrupted(settings, pool, conn, config, make_client)
        if run_id is not None and await run_store.run_status(conn, run_id) != RunStatus.QUEUED:
            # A job delivered again (after a shutdown, a crash or a retry): its own run was resumed, closed or
            # failed; run the config's queued run if one waits, rather than inserting a second queued row.
            run_id = await run_store.queued_run(conn, config_id)
        if run_id is None:
            run_id = await run_store.create_run(
                conn, config_id, trigger=trigger, allow_mass_delete=allow_mass_delete,
                reverts_run_id=reverts_run_id, reconcile=reconcile,
            )  # fmt: skip
        reverts_run_id = await run_store.reverted_run(conn, run_id)  # a queued revert is run as one
        with bound_run(config_id, run_id):
            return await make_run(run_id, dry=False).execute()


class Run:
    """The stages of one run, in order; state kept in PostgreSQL at every step that matters."""

    def __init__(
        self, settings: Settings, pool: asyncpg.Pool[Any], conn: asyncpg.Connection[Any], *,
        config: SyncConfig, run_id: int, make_client: ClientFactory, dry_run: bool, allow_mass_delete: bool,
        on_progress: ProgressHook | None = None, version: str = "", reconcile: bool = False,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.pool = pool
        self.conn = conn
        self.config = config
        self.run_id = run_id
        self.make_client = make_client
        self.dry_run = dry_run
        self.allow_mass_delete = allow_mass_delete
        self.on_progress = on_progress
        self.version = version  # the config's version, for the feed's fingerprint
        self.reconcile = reconcile  # the whole shop is read first (erpsync/reconcile.py)
        self.verdict = Verdict()  # what the source said before anything was parsed
        self.feed_info: FeedInfo | None = None  # the feed as read, once read
        self.client: ShopifyClient | None = None  # made only once the run has work
        self.counts: dict[str, Any] = {}
        self.location_id: str | None = None  # where stock is written: the config's, else the shop's primary
        self.unchanged_unlisted = 0  # unchanged products that got no `run_products` row
        self.unmatched: list[str] = []  # hashes this config last wrote that no feed product matched
        self.stopwatch = Stopwatch()
        self.feed_name = "feed"  # the feed file's name once read, for row errors
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
        self.reconcile = self.reconcile or await run_store.is_reconcile(self.conn, self.run_id)
        self.stopwatch.enter("fetch")
        try:
            return await self._stages()
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
            if self.client is not None:
                await self.client.aclose()

    async def stopped(self) -> None:
        """Shut down mid-run: a run that sent nothing is closed; one that is publishing stays to resume."""
        if self.stopwatch.stage == "publish" or self.dry_run:
            return
        try:
            await run_store.finish_run(
                self.conn, self.run_id, RunStatus.CANCELED, self.counts, "stopped by shutdown"
            )
            await store.clear_run_products(self.conn, self.run_id)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Left `running`: the next start closes it as interrupted, which is as accurate.
            log.warning("could not close the stopped run", error=str(exc))

    async def fail(self, reason: str, *, retryable: bool = False) -> SyncResult:
        reason = scrub(reason)
        log.error("sync failed", error=reason)
        sent = self.stopwatch.stage == "publish"  # lines may have been written: journalled as they ended
        self.stopwatch.enter("")
        self.counts["seconds"] = self.stopwatch.timings
        await run_store.finish_run(self.conn, self.run_id, RunStatus.FAILED, self.counts, reason)
        await add_log(
            self.conn, config_id=self.config.id, run_id=self.run_id, level="error", message=f"sync failed: {reason}"
        )  # fmt: skip
        if not self.dry_run:
            await journal_and_clear(self.conn, self.run_id, self.config.id, journal=sent)
        shutil.rmtree(self.work_dir, ignore_errors=True)  # a failed run is not resumed: its files are dead
        return SyncResult(self.run_id, RunStatus.FAILED, self.counts, error=reason, retryable=retryable)

    async def _stages(self) -> SyncResult:
        # The Shopify side is imported in a thread while the feed is checked (reading and hashing it
        # release the GIL), so the import overlaps the check instead of following it.
        shop_side = asyncio.create_task(asyncio.to_thread(import_module, "erpsync.drift_step"))
        if not self.dry_run:  # before the shop is asked anything: does the run have work at all?
            self.verdict = await check_feed(
                self.conn, self.settings, self.config, run_id=self.run_id, version=self.version,
                work_dir=self.work_dir,
            )  # fmt: skip
        await shop_side
        from erpsync.drift_settle import keep_fields
        from erpsync.drift_step import look_at_shop

        await self.stage("drift")
        drift = await look_at_shop(self)  # what changed in the shop: to write, keep or report
        if self.verdict.reason is not None and not (drift and drift.to_write):
            return await finish_unchanged(
                self.conn, config_id=self.config.id, run_id=self.run_id, verdict=self.verdict,
                stopwatch=self.stopwatch, work_dir=self.work_dir, counts=self.counts,
            )  # fmt: skip
        await self.stage("fetch")
        from erpsync.adopt import adopt_known_skus
        from erpsync.shopify.shop import ensure_owner_definition, shop_facts

        client = self.client = self.make_client(self.config)
        facts = await shop_facts(client)
        location_id = self.config.location_id or facts.primary_location_id
        self.location_id = location_id
        await settle_context(
            self.conn, self.config, self.run_id, dry_run=self.dry_run, location_id=location_id,
            currency=facts.currency,
        )  # fmt: skip
        outcome = await self.read_feed(location_id, facts.currency)
        if (reason := no_product_reason(outcome, self.feed_name)) is not None:
            # Before adopt, plan and publish: no Shopify write, no deletion, whatever the guard would allow.
            return await self.fail(reason)
        await self.stage("adopt")
        if conflicts := await claim(self.conn, self.config, self.run_id, dry_run=self.dry_run):
            self.counts["conflicts"] = conflicts
        rekeys = await regroup_store.rekey_regrouped(
            self.conn, run_id=self.run_id, config_id=self.config.id,
            rejected_keys=sorted(outcome.rejected_keys),
        )  # fmt: skip
        if rekeys:
            log.info("regrouped products keep their shop product", products=len(rekeys))
            self.counts["regrouped"] = len(rekeys)
        adoption = await adopt_known_skus(
            self.conn, client, config_id=self.config.id, run_id=self.run_id, location_id=location_id
        )
        self.counts.update(adoption.counts())
        if adoption.ambiguous:  # conflicts too: not written, the run partial
            self.counts["conflicts"] = self.counts.get("conflicts", 0) + adoption.ambiguous
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
        await keep_fields(self.conn, self.run_id, self.config.id)  # drift_policy keep: the shop's values
        plan.write_kinds = await plan_writes(
            self.conn, self.run_id, self.config.id, self.settings.sync,
            maps_handle="handle" in self.config.mapping,
        )  # fmt: skip
        await run_store.set_plan(self.conn, self.run_id, plan.as_json())
        await journal.planned(self.conn, self.config.id, self.run_id, plan)
        await self.progress({"products_planned": plan.creates + plan.updates + plan.unchanged})
        if self.dry_run:
            details = await plan_details(self.conn, run_id=self.run_id, config_id=self.config.id)
            self.stopwatch.enter("")
            return SyncResult(
                self.run_id, RunStatus.DRY_RUN, self._counts(plan), plan.as_json(), details=details
            )
        await self.stage("publish")
        await hold_creates(self.conn, self.config.id, self.run_id)  # the daily variant cap met earlier today
        unmarked = await store.count_unmarked(self.conn, self.config.id)
        if plan.creates + plan.updates + unmarked:
            await ensure_owner_definition(client)
        return await self.finish_publishing([], plan, client=client)

    async def finish_publishing(
        self,
        entries: list[dict[str, Any]],
        plan: Plan,
        *,
        client: ShopifyClient | None = None,
        resuming: bool = False,
    ) -> SyncResult:
        """Publish (or resume) the run's steps, then close the run with its counts and outcome."""
        from erpsync.drift_settle import settle_written
        from erpsync.publications import prepare_channels, publish_channels
        from erpsync.publish import publish_run
        from erpsync.stock import stock_policy

        own_client = client is None
        active = client or self.make_client(self.config)
        try:
            channels = await prepare_channels(self.conn, active, self.config, self.run_id)
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
                stock=await stock_policy(self.conn, self.config, self.location_id),
            )
            published = await publish_channels(self.conn, active, channels, self.work_dir)
        except ErpsyncError as exc:
            return await self.fail(f"publishing failed: {exc}")
        finally:
            if own_client:
                await active.aclose()
        self.stopwatch.enter("")
        status, counts, reason = await published_outcome(
            self.conn, self.settings, self.config.id, self.run_id, plan=plan, counts=self._counts(plan),
            published=published, operations=len(entries), cost=active.stats.cost, timings=self.stopwatch.timings,
        )  # fmt: skip
        await owner_store.release_stale_claims(self.conn, run_id=self.run_id, config_id=self.config.id)
        await settle_written(self.conn, self.run_id, self.config.id)  # drift the run's writes settled
        if status == RunStatus.SUCCEEDED and self.feed_info is not None and self.version:
            await fingerprint_store.save_fingerprint(
                self.conn, self.config.id, self.run_id, self.feed_info, config_version=self.version
            )
        await run_store.finish_run(self.conn, self.run_id, status, counts, reason)
        await journal_and_clear(self.conn, self.run_id, self.config.id)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        log.info("sync finished", status=status, **{k: v for k, v in counts.items() if k != "seconds"})
        return SyncResult(self.run_id, status, counts, plan.as_json(), error=reason)

    def _counts(self, plan: Plan) -> dict[str, Any]:
        planned = {
            "planned_create": plan.creates,
            "planned_update": plan.updates,
            "unchanged": plan.unchanged,
        }
        return {**self.counts, **planned, "planned_removal": plan.removals}

    async def read_feed(self, location_id: str | None, currency: str | None) -> MapOutcome:
        """Fetch, parse and map; the map stage's counts, rejected products and warnings go to the result."""
        from erpsync.reading import read_feed  # the mapper: only a run that parses imports it

        fetched_at = self.verdict.fetched_at or datetime.now(UTC)
        read = await read_feed(
            self.conn, self.settings, self.config, run_id=self.run_id, work_dir=self.work_dir,
            spool_path=self.spool_path, location_id=location_id, currency=currency, dry_run=self.dry_run,
            progress=self.progress, downloaded=self.verdict.downloaded(),
        )  # fmt: skip
        self.feed_info = settled(read.info, fetched_at)
        self.unchanged_unlisted = read.unchanged_unlisted
        self.unmatched = read.unmatched
        self.feed_name = read.info.name
        outcome = read.outcome
        await run_store.set_feed(self.conn, self.run_id, read.info.sha256, read.info.size)
        self.counts.update(map_counts(outcome, self.config, read.info.name), feed_bytes=read.info.size)
        await journal.mapped(
            self.conn, self.config.id, self.run_id, outcome, self.counts, feed=read.info.name
        )
        return outcome
