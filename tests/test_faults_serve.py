"""Faults around a real `erpsync serve`: FTP transfers cut midway, a flaky shop, a bulk operation that fails
with partial data, and SIGKILL at several points. After each fault the next run converges to exactly the
feed, and `/health` answers 200 throughout, since PostgreSQL and Redis stay up."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import aioftp
import aiohttp
import asyncpg
import pytest
from aioftp.common import Connection
from aioftp.server import ConnectionConditions
from support import (
    REDIS_URL,
    SIM_TOKEN,
    erpsync_env,
    free_port,
    poll_until,
    shop_products,
    wait_until_healthy,
)

from erpsync.settings import Settings

TOKEN = "faults-api-token-4e8a"
FTP_USER = "erp"
FTP_PASSWORD = "ftp-Secr3t-faults-91"
FEED_PATH = "/export/products.csv"
CONFIG_ID = "faults"
COUNT = 20
# A Redis database of this module's own: the daemons' queue never meets another test run's jobs.
FAULT_REDIS_URL = os.environ.get("ERPSYNC_TEST_FAULTS_REDIS_URL", f"{REDIS_URL.rpartition('/')[0]}/12")
BAD_SECONDS = 60.0
FINISHED = {"succeeded", "partial", "needs_attention", "failed", "canceled", "unchanged"}


# --- the feed and the FTP server --------------------------------------------------------------------------


def write_feed(path: Path, price: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "title", "price"])
        for n in range(COUNT):
            writer.writerow([f"SKU-{n:02d}", f"Product {n}", price])


class FaultyFtpServer(aioftp.Server):
    """An FTP server whose RETR can misbehave. In modes `aborted`, `short` and `hangup` it sends half the
    file, closes the data connection, then answers 426, claims success with 226, or hangs up the control
    connection too; in mode `stall` it sends half the file and waits until `release` is set. `cuts_left`
    bounds how many RETRs misbehave (None: every one)."""

    def __init__(self, root: Path) -> None:
        super().__init__([aioftp.User(FTP_USER, FTP_PASSWORD, base_path=root, home_path="/")])
        self.mode: str | None = None
        self.cuts_left: int | None = None
        self.retrs = 0
        self.faulty_retrs = 0
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()

    async def retr(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        self.retrs += 1
        mode = self.mode
        if mode is None or self.cuts_left == 0:
            return bool(await super().retr(connection, rest))
        if self.cuts_left is not None:
            self.cuts_left -= 1
        self.faulty_retrs += 1
        real_path, _ = self.get_paths(connection, rest)
        data = real_path.read_bytes()

        @ConnectionConditions(ConnectionConditions.data_connection_made, wait=True, fail_code="425")
        async def send_half(server: aioftp.Server, connection: Connection, rest: str | PurePosixPath) -> bool:
            stream = connection.data_connection
            del connection.data_connection
            async with stream:
                await stream.write(data[: len(data) // 2])
                if mode == "stall":
                    self.stalled.set()
                    await self.release.wait()
                    return True
            if mode == "aborted":
                connection.response("426", "connection closed; transfer aborted")
            elif mode == "short":
                connection.response("226", "data transfer done")
            else:
                connection.command_connection.close()
            return True

        async def transfer() -> None:
            await send_half(self, connection, rest)

        task = asyncio.create_task(transfer())
        connection.extra_workers.add(task)
        connection.response("150", "data transfer started")
        return True


@dataclass
class Ftp:
    server: FaultyFtpServer
    port: int
    feed: Path


@pytest.fixture
async def ftp(tmp_path: Path) -> AsyncIterator[Ftp]:
    root = tmp_path / "ftp"
    (root / "export").mkdir(parents=True)
    feed = root / "export" / "products.csv"
    write_feed(feed, "10.00")
    server = FaultyFtpServer(root)
    await server.start("127.0.0.1", 0)
    try:
        yield Ftp(server, int(server.server.sockets[0].getsockname()[1]), feed)
    finally:
        server.release.set()
        await server.close()


@pytest.fixture
async def fault_redis() -> AsyncIterator[str]:
    """This module's Redis database, emptied before and after each test."""
    from redis.asyncio import Redis

    redis = Redis.from_url(FAULT_REDIS_URL)
    await redis.flushdb()
    try:
        yield FAULT_REDIS_URL
    finally:
        await redis.flushdb()
        await redis.aclose()


# --- the daemon -------------------------------------------------------------------------------------------


@dataclass
class HealthWatch:
    """Polls `/health` in the background while a daemon is up; every answer must be 200."""

    api: aiohttp.ClientSession
    port: int
    answers: int = 0
    bad: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            try:
                async with self.api.get(f"http://127.0.0.1:{self.port}/health") as response:
                    self.answers += 1
                    if response.status != 200:
                        self.bad.append(f"{response.status}: {await response.text()}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.bad.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self.task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None


class Daemon:
    """One `erpsync serve` subprocess, its stderr kept in a file, its `/health` watched while it runs."""

    def __init__(self, env: dict[str, str], log: Path, api: aiohttp.ClientSession) -> None:
        self.env = env
        self.log = log
        self.port = int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = api
        self.process: asyncio.subprocess.Process | None = None
        self.health = HealthWatch(api, self.port)

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "erpsync",
                "serve",
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        await wait_until_healthy(self.api, self.port)
        self.health.start()

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        await self.health.stop()
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if the process has not exited after 20 seconds."""
        await self.health.stop()
        if self.process is None or self.process.returncode is not None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                return await self.process.wait()
        except TimeoutError:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
            return None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Setup:
    settings: Settings
    db: asyncpg.Connection[Any]
    tmp_path: Path
    ftp: Ftp
    redis_url: str
    api: aiohttp.ClientSession
    daemons: list[Daemon] = field(default_factory=list)

    async def serve(self, simulator: Any, **env: str) -> Daemon:
        values = {
            "ERPSYNC_API__TOKEN": TOKEN,
            "PORT": str(free_port()),
            "REDIS_URL": self.redis_url,
            "ERPSYNC_SHOPIFY__RETRY_BASE_DELAY": "0.05",
            "ERPSYNC_SHOPIFY__RETRY_MAX_DELAY": "0.5",
            "ERPSYNC_WORKER__STOP_TIMEOUT": "2",
        }
        values.update(env)
        daemon = Daemon(
            erpsync_env(self.settings, self.tmp_path, shop_url=simulator.base_url, **values),
            self.tmp_path / f"serve-{len(self.daemons)}.log",
            self.api,
        )
        self.daemons.append(daemon)
        await daemon.start()
        return daemon

    async def create_config(self, daemon: Daemon) -> None:
        body = {
            "id": CONFIG_ID,
            "name": "Faults",
            "connection_type": "ftp",
            "credentials": {
                "host": "127.0.0.1",
                "port": self.ftp.port,
                "username": FTP_USER,
                "password": FTP_PASSWORD,
                "filePath": FEED_PATH,
                "timeout": 5,
            },
            "format": "csv",
            "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
            "sync_frequency": "24",
        }
        async with self.api.post(f"{daemon.base}/configs", json=body) as response:
            assert response.status == 201, await response.text()

    async def trigger(self, daemon: Daemon) -> int:
        """POST /sync: the run queued (202) or already under way (409), by the id in Location."""
        async with self.api.post(f"{daemon.base}/sync/{CONFIG_ID}") as response:
            assert response.status in {202, 409}, await response.text()
            return int(response.headers["Location"].rpartition("/")[2])

    async def run(self, daemon: Daemon, run_id: int) -> dict[str, Any]:
        async with self.api.get(f"{daemon.base}/runs/{run_id}") as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body

    async def finished(self, daemon: Daemon, run_id: int, *, seconds: float = 30.0) -> dict[str, Any]:
        """The run once it has ended, polled through the API."""
        deadline = time.monotonic() + seconds
        while True:
            run = await self.run(daemon, run_id)
            if run["status"] in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} did not finish within {seconds:g} s: {run}")
            await asyncio.sleep(0.1)

    async def sync(self, daemon: Daemon, *, seconds: float = 30.0) -> dict[str, Any]:
        """Trigger a run (or join the one already queued) and wait for its end."""
        return await self.finished(daemon, await self.trigger(daemon), seconds=seconds)

    async def statuses(self) -> list[str]:
        return [str(row["status"]) for row in await self.db.fetch("SELECT status FROM sync_runs ORDER BY id")]

    async def stop_all(self) -> list[int | None]:
        return [await daemon.stop() for daemon in self.daemons]

    def check_logs(self) -> None:
        """Every daemon's health stayed 200 while it ran, and no secret reached its output."""
        for daemon in self.daemons:
            assert daemon.health.answers > 0
            assert daemon.health.bad == [], daemon.health.bad[:5]
            text = daemon.output()
            assert FTP_PASSWORD not in text
            assert TOKEN not in text
            assert SIM_TOKEN not in text


@pytest.fixture
async def setup(
    settings: Settings, db: asyncpg.Connection[Any], tmp_path: Path, ftp: Ftp, fault_redis: str
) -> AsyncIterator[Setup]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        running = Setup(settings, db, tmp_path, ftp, fault_redis, api)
        try:
            yield running
        finally:
            await running.stop_all()


# --- the shop ---------------------------------------------------------------------------------------------


def variants(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [variant for product in products for variant in product["variants"]["nodes"]]


async def assert_converged(simulator: Any, price: str) -> None:
    """Exactly the feed in the shop: each SKU once, on a product of its own, with the feed's latest values."""
    products = await shop_products(simulator)
    skus = sorted(variant["sku"] for variant in variants(products))
    assert skus == [f"SKU-{n:02d}" for n in range(COUNT)], "a product was lost or duplicated"
    assert len(products) == COUNT, "a product is in the shop that the feed does not have"
    assert {variant["price"] for variant in variants(products)} == {price}, "an update was lost"
    by_sku = {variants([product])[0]["sku"]: product["title"] for product in products}
    assert by_sku == {f"SKU-{n:02d}": f"Product {n}" for n in range(COUNT)}


# --- the tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "cuts"),
    [("aborted", None), ("short", None), ("hangup", None), ("aborted", 1)],
    ids=["aborted-every", "short-every", "hangup-every", "aborted-first"],
)
async def test_ftp_transfer_cut_fails_cleanly_and_next_run_converges(
    mode: str, cuts: int | None, setup: Setup, start_shopify: Any
) -> None:
    """The FTP server sends half the feed and drops the data connection (reporting 426, claiming success,
    or hanging up entirely) on the first or on every RETR: the run succeeds after retrying, or fails with an
    error naming host and path and sends no mutation; once the server behaves, the next run converges."""
    simulator = await start_shopify()
    setup.ftp.server.mode = mode
    setup.ftp.server.cuts_left = cuts
    daemon = await setup.serve(simulator)
    try:
        await setup.create_config(daemon)
        cut = await setup.sync(daemon)
        assert setup.ftp.server.faulty_retrs >= 1
        if cut["status"] == "failed":
            assert "127.0.0.1" in cut["error"], cut["error"]
            assert FEED_PATH in cut["error"], cut["error"]
            assert FTP_PASSWORD not in cut["error"]
            if mode == "aborted":
                assert "transfer aborted" in cut["error"], cut["error"]
            assert (await simulator.stats())["bulk_operations"]["MUTATION"] == 0, "a cut feed was published"
            assert await shop_products(simulator) == []
        else:
            assert cut["status"] == "succeeded", cut
            await assert_converged(simulator, "10.00")

        setup.ftp.server.mode = None
        write_feed(setup.ftp.feed, "11.00")
        after = await setup.sync(daemon)
        assert after["status"] == "succeeded", after
        await assert_converged(simulator, "11.00")
        assert after["counts"]["created"] + after["counts"]["updated"] == COUNT
    finally:
        codes = await setup.stop_all()
    assert codes == [0], daemon.output()[-3000:]
    setup.check_logs()
    assert "running" not in await setup.statuses()


@pytest.mark.timeout(BAD_SECONDS + 90)
async def test_flaky_shop_for_a_minute_then_converges(setup: Setup, start_shopify: Any) -> None:
    """For a minute a third of Shopify's answers are 500/502/503/429: every run in that minute succeeds,
    ends partial or fails with a reason, and never duplicates a product; the first run after it
    converges to the feed's latest values."""
    simulator = await start_shopify()
    daemon = await setup.serve(simulator)
    outcomes: list[dict[str, Any]] = []
    try:
        await setup.create_config(daemon)
        await simulator.faults(fail_ratio=0.34, fail_seconds=BAD_SECONDS)
        bad_until = time.monotonic() + BAD_SECONDS
        version = 0
        while time.monotonic() < bad_until - 1:
            version += 1
            write_feed(setup.ftp.feed, f"{10 + version}.00")
            run = await setup.sync(daemon, seconds=BAD_SECONDS + 30)
            outcomes.append(run)
            assert run["status"] in {"succeeded", "partial", "failed"}, run
            if run["status"] == "failed":
                assert "acme.myshopify.com" in run["error"], run
            skus = [variant["sku"] for variant in variants(await shop_products(simulator))]
            assert len(skus) == len(set(skus)), f"duplicate SKU in the shop after run {run['id']}"
        assert len(outcomes) >= 3, outcomes
        assert any(run["status"] == "succeeded" for run in outcomes), "no run got through the retries"
        assert "shopify request retried" in daemon.output(), "the faults never reached erpsync"
        await asyncio.sleep(max(0.0, bad_until - time.monotonic()) + 0.5)

        write_feed(setup.ftp.feed, "99.00")
        after = await setup.sync(daemon)
        assert after["status"] == "succeeded", after
        await assert_converged(simulator, "99.00")
    finally:
        codes = await setup.stop_all()
    assert codes == [0], daemon.output()[-3000:]
    setup.check_logs()
    assert "running" not in await setup.statuses()


async def test_bulk_operation_failed_with_partial_data(setup: Setup, start_shopify: Any) -> None:
    """The bulk operation ends FAILED after 8 of 20 lines: the run ends partial and records the 8 products
    created; the next run creates the other 12, updates the 8, and duplicates none."""
    simulator = await start_shopify()
    daemon = await setup.serve(simulator)
    try:
        await setup.create_config(daemon)
        await simulator.faults(fail_bulk_after_lines=8)
        first = await setup.sync(daemon)
        assert first["status"] == "partial", first
        assert first["counts"]["created"] == 8, first["counts"]
        assert first["counts"]["unknown"] == COUNT - 8, first["counts"]
        in_shop = variants(await shop_products(simulator))
        assert len(in_shop) == 8
        tracked = await setup.db.fetchval(
            "SELECT count(*) FROM product_states WHERE config_id = $1", CONFIG_ID
        )
        assert tracked == 8, "the products the failed operation created are not recorded"

        write_feed(setup.ftp.feed, "12.00")
        second = await setup.sync(daemon)
        assert second["status"] == "succeeded", second
        assert second["counts"]["created"] == COUNT - 8, second["counts"]
        assert second["counts"]["updated"] == 8, second["counts"]
        await assert_converged(simulator, "12.00")
    finally:
        codes = await setup.stop_all()
    assert codes == [0], daemon.output()[-3000:]
    setup.check_logs()


KILL_POINTS = {
    "idle": None,
    "fetching": "SELECT true FROM sync_runs WHERE status = 'running' AND stage = 'fetch'",
    "operation-running": "SELECT true FROM sync_runs "
    "WHERE status = 'running' AND bulk_operations->0->>'id' IS NOT NULL",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
async def test_sigkill_then_restart_converges(point: str, setup: Setup, start_shopify: Any) -> None:
    """`erpsync serve` killed with SIGKILL while idle, while fetching (the FTP transfer stalls) or while a
    bulk operation runs; a new `erpsync serve` closes or finishes the abandoned run, and a new trigger
    converges to the feed as it changed meanwhile, with no product duplicated or sent twice."""
    simulator = await start_shopify(bulk_rate=8.0)  # 20 lines take 2.5 s: the kill lands mid-operation
    first = await setup.serve(simulator)
    await setup.create_config(first)
    query = KILL_POINTS[point]
    if point == "idle":
        run = await setup.sync(first)
        assert run["status"] == "succeeded", run
    else:
        if point == "fetching":
            setup.ftp.server.mode = "stall"
        run_id = await setup.trigger(first)
        assert query is not None
        await poll_until(lambda: setup.db.fetchval(query), seconds=30)
        if point == "fetching":
            await asyncio.wait_for(setup.ftp.server.stalled.wait(), 10)
        assert await setup.db.fetchval("SELECT status FROM sync_runs WHERE id = $1", run_id) == "running"
    await first.kill()
    setup.ftp.server.mode = None
    setup.ftp.server.release.set()
    write_feed(setup.ftp.feed, "13.00")

    second = await setup.serve(simulator)
    try:

        async def none_running() -> bool:
            return not await setup.db.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'running'")

        await poll_until(none_running, seconds=30)
        abandoned = await setup.db.fetchrow("SELECT status, error, counts FROM sync_runs ORDER BY id LIMIT 1")
        assert abandoned is not None
        if point == "fetching":
            assert abandoned["status"] == "failed", dict(abandoned)
            assert "interrupted" in abandoned["error"]
            assert await shop_products(simulator) == []
        else:
            assert abandoned["status"] == "succeeded", dict(abandoned)
            assert abandoned["counts"]["created"] == COUNT
            await assert_converged(simulator, "10.00")

        after = await setup.sync(second)
        assert after["status"] == "succeeded", after
        await assert_converged(simulator, "13.00")
        # The second feed changes prices only: a variant update once the products exist.
        bulk = (await simulator.stats())["bulk_mutations"]
        writes = bulk.get("productSet", 0) + bulk.get("productVariantsBulkUpdate", 0)
        assert writes == (1 if point == "fetching" else 2), "a bulk write was sent twice"
    finally:
        codes = await setup.stop_all()
    assert codes == [None, 0], second.output()[-3000:]
    setup.check_logs()
    assert "running" not in await setup.statuses()
