"""Scheduling: when each config is next due, and one scheduler firing among several."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from arq import ArqRedis

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.pool import create_pool
from erpsync.jobs import job_id
from erpsync.models import SyncConfig
from erpsync.scheduler import Scheduler, next_due
from erpsync.settings import DatabaseSettings, Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "cron", "last_start", "expected"),
    [
        (24.0, None, None, NOW),  # never run: due now
        (24.0, None, NOW - timedelta(hours=3), NOW + timedelta(hours=21)),  # a restart does not run early
        (
            6.0,
            None,
            NOW - timedelta(hours=7),
            NOW - timedelta(hours=1),
        ),  # missed while down: due (in the past)
        (0.5, None, NOW, NOW + timedelta(minutes=30)),
        (None, "0 3 * * *", NOW - timedelta(hours=1), datetime(2026, 11, 26, 3, 0, tzinfo=UTC)),
        (
            None,
            "0 3 * * *",
            datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
            datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        ),
        (None, "*/15 * * * *", NOW, NOW + timedelta(minutes=15)),
    ],
    ids=[
        "never-run",
        "not-early",
        "missed-is-due",
        "half-hour",
        "cron-tomorrow",
        "cron-missed",
        "cron-quarter",
    ],
)
def test_next_due_is_measured_from_the_last_start(
    hours: float | None, cron: str | None, last_start: datetime | None, expected: datetime
) -> None:
    """The next run follows the last run's start, by interval or cron; a missed run is due at once."""
    assert next_due(hours=hours, cron=cron, last_start=last_start, now=NOW) == expected


@pytest.fixture
def redis(clean_redis: ArqRedis) -> ArqRedis:
    return clean_redis


async def test_only_one_of_two_schedulers_fires(
    settings: Settings, db: asyncpg.Connection[Any], make_config: Any, redis: ArqRedis
) -> None:
    """Two schedulers over one database: one leads and queues each due config exactly once."""
    box = SecretBox(settings.security.secret_key)
    for config_id in ("alpha", "beta"):
        await insert_config(db, box, SyncConfig.model_validate(make_config(config_id)))
    disabled = SyncConfig.model_validate(make_config("gamma", enabled=False))
    await insert_config(db, box, disabled)
    pools = [
        await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3)) for _ in range(2)
    ]
    schedulers = [Scheduler(pool, redis) for pool in pools]
    try:
        for _ in range(3):
            for scheduler in schedulers:
                await scheduler.reconcile()
        assert sorted(scheduler.leading for scheduler in schedulers) == [False, True]
        rows = await db.fetch("SELECT config_id, status, trigger FROM sync_runs ORDER BY config_id")
        assert [(row["config_id"], row["status"], row["trigger"]) for row in rows] == [
            ("alpha", "queued", "schedule"),
            ("beta", "queued", "schedule"),
        ]
        assert await redis.exists(f"arq:job:{job_id('alpha')}")
        leader = next(scheduler for scheduler in schedulers if scheduler.leading)
        upcoming = leader.next_runs()  # the next run of each follows the start of the one just queued
        assert sorted(upcoming) == ["alpha", "beta"]
        soon = datetime.now(UTC) + timedelta(hours=24)
        assert all(abs((due - soon).total_seconds()) < 60 for due in upcoming.values())
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        for pool in pools:
            await pool.close()


async def test_leadership_moves_when_the_leader_stops(
    settings: Settings, db: asyncpg.Connection[Any], redis: ArqRedis
) -> None:
    """When the leading scheduler stops, another takes over at its next reconcile."""
    pools = [
        await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3)) for _ in range(2)
    ]
    first, second = (Scheduler(pool, redis) for pool in pools)
    try:
        await first.reconcile()
        await second.reconcile()
        assert first.leading
        assert not second.leading
        await first.stop()
        await second.reconcile()
        assert second.leading
    finally:
        await second.stop()
        for pool in pools:
            await pool.close()


async def test_runs_queued_when_redis_lost_its_jobs_are_queued_again(
    settings: Settings, db: asyncpg.Connection[Any], make_config: Any, redis: ArqRedis
) -> None:
    """Redis restarted empty: the scheduler puts each queued run's job back, once, under the same run."""
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("alpha")))
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3))
    scheduler = Scheduler(pool, redis)
    try:
        await scheduler.reconcile()
        run_id = await db.fetchval("SELECT id FROM sync_runs WHERE status = 'queued'")
        await redis.flushdb()  # what a Redis without persistence holds after a restart
        await db.execute("UPDATE sync_runs SET queued_at = now() - interval '1 minute'")
        await scheduler.reconcile()
        await scheduler.reconcile()
        assert await redis.exists(f"arq:job:{job_id('alpha')}")
        assert await redis.zcard("erpsync:queue") == 1
        assert await db.fetchval("SELECT array_agg(id) FROM sync_runs") == [run_id]
    finally:
        await scheduler.stop()
        await pool.close()


def test_a_failing_config_is_tried_again_sooner_with_a_doubling_wait() -> None:
    """A failed run is not left for a whole `sync_frequency` (12 h in the trial): again after
    `retry_failed_after`, doubling with each failure in a row, never later than the schedule."""
    started = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    now = started + timedelta(minutes=1)

    def due(failures: int) -> datetime:
        return next_due(hours=12, cron=None, last_start=started, now=now, failures=failures, retry_after=300)

    assert due(0) == started + timedelta(hours=12)
    assert [due(n) - started for n in (1, 2, 3)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=20),
    ]
    assert due(12) == started + timedelta(hours=12)
    assert next_due(hours=12, cron=None, last_start=started, now=now, failures=3) == started + timedelta(
        hours=12
    )


async def test_the_scheduler_queues_a_failed_config_again_after_the_wait(
    settings: Settings, db: asyncpg.Connection[Any], make_config: Any, redis: ArqRedis
) -> None:
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("flaky", sync_frequency=12)))
    await db.execute(
        "INSERT INTO sync_runs (config_id, status, started_at, finished_at) "
        "VALUES ('flaky', 'failed', now() - interval '10 minutes', now() - interval '9 minutes')"
    )
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3))
    patient = Scheduler(pool, redis)
    try:
        await patient.reconcile()
        assert await db.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'queued'") == 0
    finally:
        await patient.stop()
    eager = Scheduler(pool, redis, retry_failed_after=300)
    try:
        await eager.reconcile()
        assert (
            await db.fetchval(
                "SELECT count(*) FROM sync_runs WHERE status = 'queued' AND config_id = 'flaky'"
            )
            == 1
        )
    finally:
        await eager.stop()
        await pool.close()
