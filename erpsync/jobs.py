"""arq jobs: how a sync is queued, and the worker that runs it.

A queued sync is a `sync_runs` row in state `queued` plus an arq job whose id is the config's, so a
config is never queued twice (arq refuses a second job with the same id, and PostgreSQL a second
queued row). Results are not kept, so the id is free again as soon as the run ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from arq import ArqRedis, Retry, Worker, func
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.jobs import Job, JobStatus
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from erpsync.constants import ARQ_QUEUE_NAME, SYNC_JOB_PREFIX, RunStatus
from erpsync.db import runs as run_store
from erpsync.locks import LockLost, SyncBusy, config_lock
from erpsync.logs import get_logger
from erpsync.metrics import observe_run
from erpsync.settings import Settings
from erpsync.sync import run_sync

log = get_logger("erpsync.jobs")

SYNC_FUNCTION = "sync"
MAX_TRIES = 4
RETRY_DELAY = 60.0  # seconds; doubled at each attempt


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What asking for a sync produced: the run to watch, and whether it was new or already there."""

    run_id: int
    created: bool
    status: RunStatus  # queued | running
    # Redis did not answer: the run waits queued in PostgreSQL, and the scheduler puts its job in
    # Redis once Redis is back (`requeue_orphans`).
    redis_down: bool = False


def job_id(config_id: str) -> str:
    return f"{SYNC_JOB_PREFIX}{config_id}"


async def enqueue_sync(
    redis: ArqRedis,
    pool: asyncpg.Pool[Any],
    config_id: str,
    *,
    trigger: str,
    allow_mass_delete: bool = False,
    reconcile: bool = False,
) -> Enqueued:
    """Queue a sync of `config_id` unless one is queued or running already (then that one is returned);
    `reconcile`: the run reads the whole shop first."""
    async with pool.acquire() as conn:
        active = await run_store.active_runs(conn, config_id)
        running = next((run_id for run_id, status in active if status == RunStatus.RUNNING), None)
        if running is not None:
            return Enqueued(running, created=False, status=RunStatus.RUNNING)
        queued = next((run_id for run_id, status in active if status == RunStatus.QUEUED), None)
        if queued is not None:
            # Queued in PostgreSQL: make sure its job will run (Redis may have restarted empty, a retry
            # may be waiting out its backoff, or a dead worker's mark may hold the job id).
            down = not await _try_ensure_job(redis, pool, config_id, queued, allow_mass_delete)
            return Enqueued(queued, created=False, status=RunStatus.QUEUED, redis_down=down)
        try:
            run_id = await run_store.create_run(
                conn, config_id, trigger=trigger, allow_mass_delete=allow_mass_delete, reconcile=reconcile
            )
        except asyncpg.UniqueViolationError:  # another scheduler or request queued it a moment ago
            first_id, first_status = (await run_store.active_runs(conn, config_id))[0]
            return Enqueued(first_id, created=False, status=first_status)
    down = not await _try_ensure_job(redis, pool, config_id, run_id, allow_mass_delete)
    return Enqueued(run_id, created=True, status=RunStatus.QUEUED, redis_down=down)


async def enqueue_revert(
    redis: ArqRedis,
    pool: asyncpg.Pool[Any],
    config_id: str,
    reverted: int,
    *,
    allow_mass_delete: bool = False,
) -> Enqueued:
    """Queue a revert of run `reverted` as a run of its config (trigger `revert`), run by a worker as any
    queued run is. A run of the config already queued or running is returned instead (`created` False):
    the revert is asked for again once it ended."""
    async with pool.acquire() as conn:
        active = await run_store.active_runs(conn, config_id)
        if active:
            return Enqueued(active[0][0], created=False, status=active[0][1])
        try:
            run_id = await run_store.create_run(
                conn,
                config_id,
                trigger="revert",
                allow_mass_delete=allow_mass_delete,
                reverts_run_id=reverted,
            )
        except asyncpg.UniqueViolationError:  # a sync was queued a moment ago
            first_id, first_status = (await run_store.active_runs(conn, config_id))[0]
            return Enqueued(first_id, created=False, status=first_status)
    down = not await _try_ensure_job(redis, pool, config_id, run_id, allow_mass_delete)
    return Enqueued(run_id, created=True, status=RunStatus.QUEUED, redis_down=down)


async def _try_ensure_job(
    redis: ArqRedis, pool: asyncpg.Pool[Any], config_id: str, run_id: int, allow_mass_delete: bool
) -> bool:
    """`_ensure_job`, hurried; False when Redis cannot be reached (the run stays queued in PostgreSQL)."""
    try:
        await _ensure_job(redis, pool, config_id, run_id, allow_mass_delete, hurry=True)
    except (RedisError, OSError) as exc:
        log.warning(
            "Redis is unreachable: the run waits queued in PostgreSQL until it is back",
            config_id=config_id,
            run_id=run_id,
            error=f"{type(exc).__name__}: {exc}",
        )
        return False
    return True


async def _ensure_job(
    redis: ArqRedis,
    pool: asyncpg.Pool[Any],
    config_id: str,
    run_id: int,
    allow_mass_delete: bool,
    *,
    hurry: bool,
) -> bool:
    """See that the queued run `run_id` has a job that will run; True if a job had to be enqueued.

    The job id is the config's, so an older job holding it keeps the queued run waiting. A retry waiting
    out its backoff is moved to now when `hurry` (it takes the queued run over: `run_sync`). A job marked
    in progress while nobody holds the config's lock belongs to a worker that died: arq would honour its
    mark for `job_timeout` (hours), so the mark is dropped and arq delivers the job again.
    """
    key = job_id(config_id)
    status = await Job(key, redis, _queue_name=ARQ_QUEUE_NAME).status()
    if status == JobStatus.not_found:
        job = await redis.enqueue_job(
            SYNC_FUNCTION, config_id, run_id, allow_mass_delete, _job_id=key, _queue_name=ARQ_QUEUE_NAME
        )
        return job is not None
    if status == JobStatus.deferred and hurry:
        await redis.zadd(ARQ_QUEUE_NAME, {key: timestamp_ms()}, xx=True)
    elif status == JobStatus.in_progress:
        try:
            async with config_lock(pool, config_id):
                await redis.delete(in_progress_key_prefix + key)
            log.warning("dropped the in-progress mark of a job whose worker died", config_id=config_id)
        except SyncBusy:
            pass  # a live worker runs it
    return False


async def requeue_orphans(redis: ArqRedis, pool: asyncpg.Pool[Any], *, older_than: float = 10.0) -> list[int]:
    """Queued runs whose job Redis no longer has (Redis restarted empty) are queued again: none is lost,
    and none runs twice, since the job id is the config's."""
    requeued = []
    for run_id, config_id, allow_mass_delete in await run_store.queued_runs(pool, older_than):
        if await _ensure_job(redis, pool, config_id, run_id, allow_mass_delete, hurry=False):
            requeued.append(run_id)
    if requeued:
        log.warning("queued runs lost by Redis were queued again", run_ids=requeued)
    return requeued


async def queue_depth(redis: ArqRedis) -> int:
    return int(await redis.zcard(ARQ_QUEUE_NAME))


async def sync_job(
    ctx: dict[str, Any], config_id: str, run_id: int | None, allow_mass_delete: bool
) -> dict[str, Any]:
    """The arq job: one run; retryable failures come back later, at most `MAX_TRIES` times in all."""
    settings: Settings = ctx["settings"]
    pool: asyncpg.Pool[Any] = ctx["pool"]
    attempt = int(ctx.get("job_try", 1))
    try:
        result = await run_sync(
            settings,
            pool,
            config_id,
            trigger="schedule" if run_id is None else "queue",
            run_id=run_id,
            allow_mass_delete=allow_mass_delete,
        )
    except LockLost as exc:
        log.warning("run stopped: PostgreSQL went away under it", config_id=config_id, error=str(exc))
        return {"run_id": run_id, "status": "interrupted"}
    except SyncBusy as exc:
        # Someone else (a foreground `erpsync sync`) holds the config: try again shortly.
        log.info("config busy, retrying later", config_id=config_id, error=str(exc))
        if attempt < MAX_TRIES:
            raise Retry(defer=RETRY_DELAY) from exc
        if run_id is not None:
            await run_store.cancel_queued(pool, run_id, str(exc))
        return {"run_id": run_id, "status": RunStatus.CANCELED.value}
    observe_run(config_id, result)
    if result.status == RunStatus.FAILED and result.retryable and attempt < MAX_TRIES:
        log.warning("retryable failure, the sync will run again", config_id=config_id, attempt=attempt)
        raise Retry(defer=RETRY_DELAY * 2 ** (attempt - 1))
    return {"run_id": result.run_id, "status": result.status}


def create_worker(settings: Settings, pool: asyncpg.Pool[Any], redis: ArqRedis) -> Worker:
    """The arq worker, with signals left to the daemon that owns the loop."""
    return Worker(
        functions=[func(sync_job, name=SYNC_FUNCTION, max_tries=MAX_TRIES)],
        queue_name=ARQ_QUEUE_NAME,
        redis_pool=redis,
        max_jobs=settings.worker.max_jobs,
        job_timeout=int(settings.worker.job_timeout),
        keep_result=0,
        handle_signals=False,
        poll_delay=0.2,
        ctx={"settings": settings, "pool": pool},
        max_tries=MAX_TRIES,
        log_results=False,
    )


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis.url)
