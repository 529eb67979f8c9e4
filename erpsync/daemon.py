"""`erpsync serve`: start the roles in one loop, own the signals, stop in reverse order."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from erpsync.api.app import check_exposure, init_app
from erpsync.logs import get_logger
from erpsync.settings import Settings

log = get_logger("erpsync.daemon")


async def run_daemon(
    settings: Settings, *, api: bool = True, scheduler: bool = True, worker: bool = True
) -> None:
    """Run until SIGTERM or SIGINT. The scheduler and worker roles arrive with the sync engine."""
    check_exposure(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    try:
        if api:
            runner = web.AppRunner(init_app(settings), access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, settings.api.host, settings.api.port)
            await site.start()
            log.info("api listening", host=settings.api.host, port=settings.api.port)
        for role, wanted in (("scheduler", scheduler), ("worker", worker)):
            if wanted:
                log.warning("role not available in this version", role=role)
        await stop.wait()
        log.info("stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
