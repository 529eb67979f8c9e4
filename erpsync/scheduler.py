"""The scheduler: one APScheduler trigger per enabled config; it only enqueues, never syncs.

Each config's next run is measured from the start of its last run, so a restart neither runs early
nor skips a due run: `next_due()` is computed from PostgreSQL, and a due config is queued at once.
Configs changed through the API are picked up at the next reconcile (every few seconds). With several
schedulers, the one holding a PostgreSQL advisory lock fires; the others stand by.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from arq import ArqRedis
from redis.exceptions import RedisError

from erpsync.constants import SCHEDULER_LOCK_ID
from erpsync.db import drift as drift_store
from erpsync.db import schedules
from erpsync.db.retention import prune_history
from erpsync.jobs import enqueue_sync, requeue_orphans
from erpsync.logs import get_logger
from erpsync.notify import Notifier

log = get_logger("erpsync.scheduler")

RECONCILE_SECONDS = 5.0


# How often the leader prunes runs, log lines and journal rows past `[sync] journal_days`.
PRUNE_EVERY = timedelta(hours=1)


def next_due(
    *,
    hours: float | None,
    cron: str | None,
    last_start: datetime | None,
    now: datetime,
    enabled_at: datetime | None = None,
    first_run: str = "now",
    failures: int = 0,
    retry_after: float = 0.0,
) -> datetime:
    """When a config should next run: its interval or cron after its last run's start. A config that
    never ran runs now, or with `first_run="schedule"` one interval after it was created or enabled
    (as is one enabled again since its last run). After `failures` failed runs in a row it runs again
    `retry_after` seconds after the last, doubling each time, when that is sooner."""
    base = last_start
    if first_run == "schedule" and enabled_at is not None and (base is None or enabled_at > base):
        base = enabled_at
    if base is None:
        return now
    if cron:
        trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        fire: datetime | None = trigger.get_next_fire_time(None, base + timedelta(seconds=1))
        due = fire if fire is not None else now + timedelta(days=3650)
    else:
        due = base + timedelta(hours=hours or 24.0)
    if failures and retry_after and last_start is not None and base == last_start:
        # The last runs failed: again after retry_after, doubling with each failure, until that is
        # no sooner than the schedule itself.
        retry = last_start + timedelta(seconds=retry_after * 2 ** min(failures - 1, 20))
        due = min(due, retry)
    return due


def reconcile_due(
    *, every: float | None, last_reconcile: datetime | None, first_run: datetime | None, now: datetime
) -> bool:
    """Whether a config's next run is a reconcile: `reconcile_every` hours after its last one, or after its
    first run when it never had one (a config's very first run is an ordinary one)."""
    since = last_reconcile or first_run
    return every is not None and since is not None and now - since >= timedelta(hours=every)


class Scheduler:
    """Keeps one DateTrigger per enabled config pointing at its next due time, while it leads."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        redis: ArqRedis,
        *,
        reconcile_seconds: float = RECONCILE_SECONDS,
        first_run: str = "now",
        journal_days: int = 90,
        notifier: Notifier | None = None,
        retry_failed_after: float = 0.0,
    ):
        self.pool = pool
        self.redis = redis
        self.reconcile_seconds = reconcile_seconds
        self.first_run = first_run
        self.journal_days = journal_days
        self._pruned_at: datetime | None = None
        self.notifier = notifier
        self.retry_failed_after = retry_failed_after
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock_conn: Any = None
        self._due: dict[str, datetime] = {}

    @property
    def leading(self) -> bool:
        return self._lock_conn is not None

    def start(self) -> None:
        self.scheduler.add_job(
            self.reconcile,
            "interval",
            seconds=self.reconcile_seconds,
            id="reconcile",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self._release()
        if self.notifier is not None:
            await self.notifier.close()

    def next_runs(self) -> dict[str, datetime]:
        """Next scheduled time per config (empty when another process leads)."""
        return dict(self._due)

    async def _lead(self) -> bool:
        if self._lock_conn is not None:
            try:
                await schedules.ping(self._lock_conn)
                return True
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                log.warning("lost the scheduler lock's connection")
                await self._release()
        conn = await self.pool.acquire()
        if await schedules.try_lock(conn, SCHEDULER_LOCK_ID):
            self._lock_conn = conn
            log.info("this process now schedules syncs")
            return True
        await self.pool.release(conn)
        return False

    async def _release(self) -> None:
        if self._lock_conn is None:
            return
        conn, self._lock_conn = self._lock_conn, None
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await schedules.unlock(conn, SCHEDULER_LOCK_ID)
        with contextlib.suppress(asyncpg.InterfaceError, OSError):
            await self.pool.release(conn)

    async def reconcile(self) -> None:
        """Align triggers with the configs in PostgreSQL; queue every config that is due."""
        try:
            if not await self._lead():
                self._clear()
                return
            rows = await schedules.enabled_schedules(self.pool)
            await requeue_orphans(self.redis, self.pool)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, RedisError) as exc:
            log.warning("scheduler cannot read configs or the queue", error=str(exc))
            return
        now = datetime.now(UTC)
        await self._prune(now)
        await self._notify()
        seen = set()
        for row in rows:
            config_id = row.config_id
            seen.add(config_id)
            due = next_due(
                hours=row.hours,
                cron=row.cron,
                last_start=row.last_start,
                now=now,
                enabled_at=row.enabled_at,
                first_run=self.first_run,
                failures=row.failures,
                retry_after=self.retry_failed_after,
            )
            if due <= now:
                await self.fire(config_id)
                continue
            if self._due.get(config_id) != due:
                self._due[config_id] = due
                self.scheduler.add_job(
                    self.fire,
                    DateTrigger(run_date=due),
                    args=[config_id],
                    id=f"sync:{config_id}",
                    replace_existing=True,
                    misfire_grace_time=None,
                )
        for config_id in set(self._due) - seen:
            self._unschedule(config_id)

    async def _prune(self, now: datetime) -> None:
        """Drop runs, log lines and journal rows past `journal_days`, once per PRUNE_EVERY, while leading."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            runs, lines, changes = await prune_history(self.pool, now - timedelta(days=self.journal_days))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("could not prune old runs and log lines", error=str(exc))
            return
        if runs or lines or changes:
            log.info(
                "pruned old runs, log lines and journal rows",
                runs=runs,
                log_lines=lines,
                journal_rows=changes,
                days=self.journal_days,
            )

    async def _notify(self) -> None:
        """Tell the webhooks what finished runs changed, while leading (one process says it once)."""
        if self.notifier is None:
            return
        try:
            await self.notifier.tick()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("could not look at finished runs for notifications", error=str(exc))

    async def fire(self, config_id: str) -> None:
        """Queue a sync (a no-op when one is queued or running already)."""
        self._unschedule(config_id)
        if not self.leading:
            return
        try:
            every, last_reconcile, first_run = await drift_store.reconcile_times(self.pool, config_id)
            due = reconcile_due(
                every=every, last_reconcile=last_reconcile, first_run=first_run, now=datetime.now(UTC)
            )
            outcome = await enqueue_sync(self.redis, self.pool, config_id, trigger="schedule", reconcile=due)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, RedisError) as exc:
            log.warning("could not queue a scheduled sync", config_id=config_id, error=str(exc))
            return
        if outcome.created:
            log.info("scheduled sync queued", config_id=config_id, run_id=outcome.run_id, reconcile=due)

    def _unschedule(self, config_id: str) -> None:
        self._due.pop(config_id, None)
        job = self.scheduler.get_job(f"sync:{config_id}")
        if job is not None:
            job.remove()

    def _clear(self) -> None:
        for config_id in list(self._due):
            self._unschedule(config_id)
