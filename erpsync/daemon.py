"""`erpsync serve`: API, scheduler and worker in one loop; this module owns the signals.

Start order: PostgreSQL pool, Redis, API, worker, scheduler; stop in reverse. SIGTERM stops the
scheduler, lets running syncs finish for up to `[worker] stop_timeout` seconds, then cancels them —
a run cancelled while publishing is resumed by the next start, one cancelled earlier sent nothing.
SIGHUP re-reads the settings file and applies what is safe to change live (the log level and format).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiohttp import web
from arq import ArqRedis
from redis.exceptions import RedisError

from erpsync.api.app import check_exposure, init_app
from erpsync.db.pool import create_pool
from erpsync.errors import ErpsyncError, ListenError, SettingsError
from erpsync.jobs import create_worker
from erpsync.logs import configure_logging, get_logger
from erpsync.notify import Notifier
from erpsync.resume import resume_abandoned_runs
from erpsync.scheduler import Scheduler
from erpsync.settings import Settings, load_settings
from erpsync.shopify.client import close_shared_sessions
from erpsync.systemd import notify, watchdog_interval

LINGER = 2.0
WORKER_RESTART_DELAY = 1.0
# The wait between tries doubles up to this while Redis stays away.
WORKER_RESTART_MAX_DELAY = 30.0
log = get_logger("erpsync.daemon")


class Daemon:
    """The roles of one process, started in order and stopped in reverse."""

    def __init__(self, settings: Settings, *, api: bool, scheduler: bool, worker: bool) -> None:
        self.settings = settings
        self.roles = {"api": api, "scheduler": scheduler, "worker": worker}
        self.runner: web.AppRunner | None = None
        self.worker: Any = None
        self.retired_workers: list[Any] = []  # dropped by a Redis outage, maybe still finishing a job
        self.worker_task: asyncio.Task[None] | None = None
        self.scheduler: Scheduler | None = None
        self.pinger: asyncio.Task[None] | None = None
        self.resumer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings = self.settings
        self.pool = await create_pool(settings.database)
        self.redis = ArqRedis.from_url(settings.redis.url, socket_timeout=5, socket_connect_timeout=5)
        if self.roles["api"]:
            app = init_app(settings, pool=self.pool, redis=self.redis)
            # keepalive_timeout also bounds a connection that never completes its request line and
            # headers (slow-header clients); aiohttp has no separate header timeout. After an answer
            # sent before its body arrived (408, 413), unread body is drained for LINGER seconds only.
            self.runner = web.AppRunner(
                app,
                access_log=None,
                handle_signals=False,
                keepalive_timeout=settings.api.idle_timeout,
                lingering_time=LINGER,
            )
            await self.runner.setup()
            try:
                await web.TCPSite(self.runner, settings.api.host, settings.api.port).start()
            except OSError as exc:
                reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                raise ListenError(
                    f"the API cannot listen on {settings.api.host}:{settings.api.port} ({reason}); "
                    "stop the other process there, or set [api] port or host"
                ) from None
            log.info("api listening", host=settings.api.host, port=settings.api.port)
        if self.roles["worker"]:
            self.worker = create_worker(settings, self.pool, self.redis)
            self.worker_task = asyncio.create_task(self.run_worker(), name="worker")
            self.resumer = asyncio.create_task(
                keep_resuming(settings, self.pool, settings.worker.resume_interval), name="resume"
            )
            log.info("worker started", max_jobs=settings.worker.max_jobs)
        if self.roles["scheduler"]:
            self.scheduler = Scheduler(
                self.pool,
                self.redis,
                first_run=self.settings.sync.first_run,
                journal_days=self.settings.sync.journal_days,
                notifier=Notifier(self.settings, self.pool),
                retry_failed_after=self.settings.sync.retry_failed_after,
            )
            self.scheduler.start()
            log.info("scheduler started")
        notify("READY=1\nSTATUS=serving")
        self.pinger = start_watchdog()

    async def run_worker(self) -> None:
        """The arq worker, started again whenever Redis drops it.

        arq's poll loop ends at the first lost connection; without this a Redis restart would leave the
        process serving the API with no worker until systemd restarted it. Jobs the dropped worker was
        running carry on to their end, and `stop` still waits for them.
        """
        delay = WORKER_RESTART_DELAY
        said: str | None = None
        while True:
            started = time.monotonic()
            try:
                await self.worker.async_run()
                return
            except (RedisError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() - started > WORKER_RESTART_MAX_DELAY:
                    delay, said = WORKER_RESTART_DELAY, None  # it ran a while: a new outage
                if error != said:  # the same outage is said once, not every second
                    log.warning("the worker lost Redis; starting it again until it answers", error=error)
                    said = error
            await asyncio.sleep(delay)
            delay = min(delay * 2, WORKER_RESTART_MAX_DELAY)
            for job in self.worker.tasks.values():
                job.add_done_callback(_report_orphaned_job)
            self.retired_workers.append(self.worker)
            self.worker = create_worker(self.settings, self.pool, self.redis)

    async def wait(self, stop: asyncio.Event) -> None:
        """Until asked to stop, or until the worker dies (then systemd restarts us)."""
        stopped = asyncio.create_task(stop.wait())
        watched: list[asyncio.Task[Any]] = [stopped, *([self.worker_task] if self.worker_task else [])]
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if self.worker_task in done and self.worker_task is not None and self.worker_task.exception():
            log.error("worker stopped unexpectedly", error=str(self.worker_task.exception()))

    async def stop(self) -> None:
        notify("STOPPING=1")
        log.info("stopping")
        for task in (self.pinger, self.resumer):
            if task is not None and not task.done():
                task.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.worker is not None:
            await stop_worker(
                self.worker,
                self.worker_task,
                grace=self.settings.worker.stop_timeout,
                retired=self.retired_workers,
            )
        if self.runner is not None:
            await self.runner.cleanup()
        await close_shared_sessions()
        if hasattr(self, "redis"):
            with contextlib.suppress(RedisError, OSError):
                await self.redis.aclose()
        if hasattr(self, "pool"):
            await self.pool.close()
        log.info("stopped")


async def keep_resuming(settings: Settings, pool: asyncpg.Pool[Any], every: float) -> None:
    """At start and then every `every` seconds, finish runs left `running` with nobody holding their lock.

    A process killed mid-run leaves such a run, and so does a live one whose PostgreSQL restarted under
    it: the job fails with its connection, the lock dies with the session, and without this the config
    would stay "syncing now" until the next restart.
    """
    while True:
        try:
            resumed = await resume_abandoned_runs(settings, pool)
            if resumed:
                log.info("abandoned runs finished", run_ids=resumed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ErpsyncError) as exc:
            log.warning("cannot look for abandoned runs", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(every)


async def run_daemon(
    settings: Settings,
    *,
    api: bool = True,
    scheduler: bool = True,
    worker: bool = True,
    config_file: str | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly."""
    check_exposure(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: reload_settings(config_file))
    daemon = Daemon(settings, api=api, scheduler=scheduler, worker=worker)
    try:
        await daemon.start()
        await daemon.wait(stop)
    finally:
        await daemon.stop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def _report_orphaned_job(job: asyncio.Task[Any]) -> None:
    """A job of a dropped worker ended; arq could not record it in Redis if that is what failed.

    The run itself is recorded in PostgreSQL either way; this only keeps the failure in the log's shape
    instead of asyncio's "exception was never retrieved".
    """
    if not job.cancelled() and (error := job.exception()) is not None:
        log.warning("a job's bookkeeping in Redis failed", error=f"{type(error).__name__}: {error}")


async def stop_worker(
    arq_worker: Any, task: asyncio.Task[None] | None, *, grace: float, retired: Sequence[Any] = ()
) -> None:
    """Let running syncs finish for `grace` seconds, then cancel what is left."""
    running = [job for worker in (*retired, arq_worker) for job in worker.tasks.values() if not job.done()]
    if running:
        log.info("waiting for running syncs", count=len(running), grace=grace)
        await asyncio.wait(running, timeout=grace)
    try:
        await arq_worker.close()  # arq tells Redis it is gone; with Redis down there is no one to tell
    except (RedisError, OSError) as exc:
        log.warning("stopped the worker without Redis", error=f"{type(exc).__name__}: {exc}")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def start_watchdog() -> asyncio.Task[None] | None:
    interval = watchdog_interval()
    if interval is None:
        return None

    async def ping() -> None:
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    return asyncio.create_task(ping(), name="watchdog")


def reload_settings(config_file: str | None) -> None:
    """SIGHUP: what can change without a restart (logging); the rest waits for one."""
    try:
        fresh = load_settings(config_file)
    except SettingsError as exc:
        log.error("settings not reloaded", error=str(exc))
        return
    configure_logging(log_format=fresh.log.format, level=fresh.log.level, stream=sys.stderr)
    log.info("settings reloaded", level=fresh.log.level)
