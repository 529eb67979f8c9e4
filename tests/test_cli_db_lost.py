"""A real `erpsync sync` whose PostgreSQL goes away while it publishes: one line, a documented exit status,
and the next `erpsync sync` resumes the run to an exact shop.

PostgreSQL is reached through a loopback proxy the test cuts (every session dropped, new ones refused)
and restores, so the shared server is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from support import erpsync_env, free_port, poll_until, shop_products
from test_faults_services import file_config, write_feed
from test_sync_resume import COUNT

from erpsync.cli_errors import DATABASE_LOST_EXIT
from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.models import SyncConfig
from erpsync.settings import Settings


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 to one upstream; `cut()` drops every session and refuses new ones."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.WriteTransport] = set()
        self.sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in list(self.transports):
            transport.abort()  # a reset, not a polite close: as when the server or the network dies
        self.transports.clear()
        for session in list(self.sessions):
            session.cancel()
        await asyncio.gather(*self.sessions, return_exceptions=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            pass  # cut: the relay ends with the proxy
        finally:
            self.sessions.discard(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer.transport, up_writer.transport)
        self.transports.update(pair)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.transports.difference_update(pair)
            for transport in pair:
                transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


def through(url: str, port: int) -> str:
    """The DSN with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


OPERATION_STORED = """
SELECT stage = 'publish' AND bulk_operations->0->>'id' IS NOT NULL FROM sync_runs WHERE config_id = 'acme'
"""
# A result batch's transaction, waiting behind the test's lock on the run's row.
RECORDING_BLOCKED = """
SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
"""
ADVISORY_LOCKS = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class Sync:
    """One `erpsync sync acme` subprocess; a wait that times out fails with what the process printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None
        self.output: asyncio.Task[tuple[bytes, bytes]] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "erpsync", "sync", "acme", env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.output = asyncio.create_task(self.process.communicate())

    async def until(self, db: asyncpg.Connection[Any], query: str) -> None:
        async def check() -> bool:
            return bool(await db.fetchval(query))

        try:
            await poll_until(check, seconds=30, every=0.01)
        except TimeoutError:
            _, out, err = await self.end(seconds=0)
            pytest.fail(f"never true: {query}\n{(out + err)[-3000:]}")

    async def end(self, *, seconds: float = 60) -> tuple[int, str, str]:
        """The exit status, stdout and stderr; the process is killed if it is not done within `seconds`."""
        assert self.process is not None
        assert self.output is not None
        try:
            async with asyncio.timeout(seconds):
                out, err = await asyncio.shield(self.output)
        except TimeoutError:
            self.process.kill()
            out, err = await self.output
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("point", ["operation-running", "recording"])
async def test_postgres_lost_while_publishing_is_one_line_and_resumable(
    point: str, settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """PostgreSQL vanishes while `erpsync sync` waits on its bulk operation or records its results: the
    operator sees one line saying so (no traceback) and the documented exit status; once PostgreSQL is
    back, the next `erpsync sync` resumes that run and the shop has every SKU exactly once."""
    simulator = await start_shopify(bulk_rate=15.0)  # 30 lines: a two-second operation
    feed = tmp_path / "feed.csv"
    write_feed(feed, "10.00")
    assert settings.security.secret_key is not None
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(file_config("acme", feed)))
    target = urlsplit(settings.database.url)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5432)
    env = erpsync_env(
        settings,
        tmp_path,
        shop_url=simulator.base_url,
        DATABASE_URL=through(settings.database.url, proxy.port),
        ERPSYNC_LOG__LEVEL="warning",  # what an operator running it by hand or from cron reads
    )
    blocker = await asyncpg.connect(settings.database.url)  # directly, not through the proxy
    held = blocker.transaction()
    first = Sync(env)
    locked = False
    try:
        await proxy.start()
        await first.start()
        await first.until(db, OPERATION_STORED)
        if point == "recording":
            # The run's row is locked: the first batch of results starts its transaction and waits there
            # (the products it writes reference the run) until PostgreSQL is cut away under it.
            await held.start()
            locked = True
            await blocker.execute("SELECT 1 FROM sync_runs WHERE config_id = 'acme' FOR UPDATE")
            await first.until(db, RECORDING_BLOCKED)
        await proxy.cut()
        status, out, err = await first.end()
    finally:
        await proxy.cut()
        if locked:
            await held.rollback()
        await blocker.close()
    assert status == DATABASE_LOST_EXIT, (out + err)[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert len(err.strip().splitlines()) == 1, err[-3000:]
    assert "PostgreSQL" in err
    assert "erpsync sync acme" in err  # it says what to do next

    await first.until(db, f"SELECT ({ADVISORY_LOCKS}) = 0")  # the cut sessions ended server-side too
    assert await db.fetchval("SELECT status FROM sync_runs WHERE config_id = 'acme'") == "running"
    second = Sync(env)
    await proxy.start()
    try:
        await second.start()
        status, out, err = await second.end()
    finally:
        await proxy.cut()
    assert status == 0, (out + err)[-3000:]
    runs = await db.fetch("SELECT status FROM sync_runs WHERE config_id = 'acme' ORDER BY id")
    assert runs[0]["status"] == "succeeded", runs  # the first run was resumed, not closed as failed
    assert "running" not in {row["status"] for row in runs}
    products = await shop_products(simulator)
    skus = sorted(variant["sku"] for product in products for variant in product["variants"]["nodes"])
    assert skus == sorted(f"SKU-{n}" for n in range(COUNT)), "a product was lost or duplicated"
    assert await db.fetchval("SELECT count(*) FROM product_states WHERE config_id = 'acme'") == COUNT


@pytest.mark.parametrize(
    ("error", "reported"),
    [
        (
            asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            ),
            False,
        ),
        (ConnectionResetError("Connection reset by peer"), False),
        (ValueError("a bug"), True),
    ],
    ids=["asyncpg-lost", "socket-reset", "a-bug"],
)
def test_a_task_left_failing_by_a_lost_connection_prints_no_traceback(
    error: Exception, reported: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A background task a command never awaits (asyncpg releasing a pooled connection after PostgreSQL
    went away) ends on a lost connection: asyncio's 'Task exception was never retrieved' and its
    traceback are not printed beside the command's one line. Any other such failure still is."""
    import gc

    from erpsync.cli_context import run

    async def command() -> None:
        async def release() -> None:
            raise error

        task = asyncio.get_running_loop().create_task(release())
        await asyncio.sleep(0)
        del task
        gc.collect()

    with caplog.at_level("ERROR", logger="asyncio"):
        run(command())
    assert any("never retrieved" in record.getMessage() for record in caplog.records) is reported
