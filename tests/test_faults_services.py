"""A real `erpsync serve` while its PostgreSQL or Redis restarts, or its work disk fills up.

Each uses a server of its own (`private_services`), so restarting it leaves the rest of the suite alone,
and ends by showing that the next run converges exactly to the feed and `/health` told the truth.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from private_services import PrivatePostgres, PrivateRedis
from support import SIM_TOKEN, erpsync_env, free_port, poll_until, shop_products, wait_until_healthy
from test_sync_resume import COUNT

from erpsync.settings import Settings

TOKEN = "faults-api-token-3e8d"


def write_feed(path: Path, price: str, prefix: str = "SKU") -> None:
    rows = "".join(f"{prefix}-{n},Product {prefix} {n},{price}\n" for n in range(COUNT))
    path.write_text("sku,title,price\n" + rows)


def file_config(config_id: str, feed: Path) -> dict[str, Any]:
    return {
        "id": config_id,
        "name": config_id.title(),
        "connection_type": "file",
        "credentials": {"filePath": str(feed)},
        "format": "csv",
        "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
    }


class Serve:
    """One `erpsync serve` subprocess and an API client for it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port), "ERPSYNC_API__TOKEN": TOKEN}
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None
        self.api = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=aiohttp.ClientTimeout(total=10)
        )
        self.stderr = b""

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "erpsync", "serve", env=self.env, stderr=asyncio.subprocess.PIPE
        )
        await wait_until_healthy(self.api, self.port)

    async def stop(self) -> int | None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(60):
                    _, stderr = await self.process.communicate()
            except TimeoutError:
                self.process.kill()
                _, stderr = await self.process.communicate()
            self.stderr += stderr
        await self.api.close()
        return None if self.process is None else self.process.returncode

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.api.get(f"{self.base}/health") as response:
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.api.post(f"{self.base}{path}", json=body) as response:
            return response.status, await response.json()


@asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[Serve]:
    daemon = Serve(env)
    try:
        await daemon.start()
        yield daemon
    finally:
        code = await daemon.stop()
        assert code == 0, daemon.stderr.decode()[-3000:]
        for secret in (TOKEN, SIM_TOKEN, env["ERPSYNC_SECURITY__SECRET_KEY"]):
            assert secret.encode() not in daemon.stderr, "a secret reached the log"


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "erpsync", "migrate"], env=env, check=True, capture_output=True)


async def fetchval(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def wait_for_health(daemon: Serve, want: Callable[[int, dict[str, Any]], bool]) -> None:
    async def check() -> bool:
        return want(*await daemon.health())

    await poll_until(check, seconds=30, every=0.1)


async def assert_shop_is_the_feed(simulator: Any, price: str) -> None:
    products = await shop_products(simulator)
    skus = sorted(variant["sku"] for product in products for variant in product["variants"]["nodes"])
    assert skus == sorted(f"SKU-{n}" for n in range(COUNT)), "a product was lost or duplicated"
    assert {variant["price"] for product in products for variant in product["variants"]["nodes"]} == {price}


async def test_postgres_restarted_during_a_sync(
    settings: Settings, start_shopify: Any, tmp_path: Path, clean_redis: Any
) -> None:
    """PostgreSQL stops (every session cut) while a bulk operation runs and comes back: `/health` says
    503 naming PostgreSQL meanwhile, the daemon survives, the interrupted run is finished by the worker
    once PostgreSQL is back, and the next run converges with no duplicate and no lost update."""
    postgres = PrivatePostgres()
    postgres.init()
    try:
        simulator = await start_shopify(bulk_rate=15.0)  # 30 lines: a two-second operation
        feed = tmp_path / "feed.csv"
        write_feed(feed, "10.00")
        env = erpsync_env(
            settings,
            tmp_path,
            shop_url=simulator.base_url,
            DATABASE_URL=postgres.dsn,
            ERPSYNC_WORKER__RESUME_INTERVAL="1",
        )
        migrate(env)
        async with serving(env) as daemon:
            assert (await daemon.post("/configs", file_config("acme", feed)))[0] == 201
            status, queued = await daemon.post("/sync/acme")
            assert status == 202, queued

            async def operation_stored() -> bool:
                query = "SELECT bulk_operations->0->>'id' IS NOT NULL FROM sync_runs WHERE id = $1"
                return bool(await fetchval(postgres.dsn, query, queued["run_id"]))

            await poll_until(operation_stored, seconds=30)
            postgres.stop()
            await wait_for_health(daemon, lambda code, body: code == 503 and "postgres" in str(body).lower())
            await asyncio.sleep(1.0)
            postgres.start()
            await wait_for_health(daemon, lambda code, body: code == 200)

            async def first_run_ended() -> bool:
                query = "SELECT finished_at IS NOT NULL FROM sync_runs WHERE id = $1"
                return bool(await fetchval(postgres.dsn, query, queued["run_id"]))

            await poll_until(first_run_ended, seconds=60, every=0.2)
            query = "SELECT status FROM sync_runs WHERE id = $1"
            assert await fetchval(postgres.dsn, query, queued["run_id"]) == "succeeded"
            write_feed(feed, "12.00")
            status, second = await daemon.post("/sync/acme")
            assert status == 202, second

            async def second_run_ended() -> bool:
                query = "SELECT status FROM sync_runs WHERE id = $1 AND finished_at IS NOT NULL"
                return bool(await fetchval(postgres.dsn, query, second["run_id"]))

            await poll_until(second_run_ended, seconds=60, every=0.2)
            query = "SELECT status FROM sync_runs WHERE id = $1"
            assert await fetchval(postgres.dsn, query, second["run_id"]) == "succeeded"
        await assert_shop_is_the_feed(simulator, "12.00")
        assert await fetchval(postgres.dsn, "SELECT count(*) FROM sync_runs WHERE status = 'running'") == 0
    finally:
        postgres.destroy()


async def test_redis_restarted_empty_while_runs_are_queued(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """Redis is killed (it keeps nothing) while one run works and two wait, and stays away while the worker
    polls for more: `/health` says 503 naming Redis meanwhile; the running sync finishes, the worker comes
    back with Redis, every queued run happens exactly once and the queue drains."""
    redis = PrivateRedis()
    redis.start()
    try:
        simulator = await start_shopify(bulk_rate=15.0)
        feeds = {name: tmp_path / f"{name}.csv" for name in ("alpha", "beta", "gamma")}
        for name, feed in feeds.items():
            write_feed(feed, "10.00", prefix=name)
        env = erpsync_env(
            settings, tmp_path, shop_url=simulator.base_url, REDIS_URL=redis.url, ERPSYNC_WORKER__MAX_JOBS="1"
        )
        async with serving(env) as daemon:
            for name, feed in feeds.items():
                assert (await daemon.post("/configs", file_config(name, feed)))[0] == 201
            run_ids = {}
            for name in feeds:
                status, queued = await daemon.post(f"/sync/{name}")
                assert status == 202, queued
                run_ids[name] = queued["run_id"]

            async def alpha_running() -> bool:
                async with daemon.api.get(f"{daemon.base}/runs/{run_ids['alpha']}") as response:
                    return bool((await response.json())["status"] == "running")

            await poll_until(alpha_running, seconds=30)
            redis.kill()
            await wait_for_health(daemon, lambda code, body: code == 503 and "redis" in str(body).lower())

            async def alpha_done() -> bool:
                async with daemon.api.get(f"{daemon.base}/runs/{run_ids['alpha']}") as response:
                    return bool((await response.json())["finished_at"])

            # Redis stays away until the worker has finished its run and gone back to polling the queue.
            await poll_until(alpha_done, seconds=30)
            await asyncio.sleep(1.5)
            redis.start()
            await wait_for_health(daemon, lambda code, body: code == 200)

            async def all_ended() -> bool:
                async with daemon.api.get(f"{daemon.base}/sync/status") as response:
                    body = await response.json()
                done = [c for c in body["configs"] if c["last_run"] and c["running"] is None]
                return len(done) == len(feeds) and body["queue_depth"] == 0

            await poll_until(all_ended, seconds=90, every=0.5)
            for name in feeds:
                async with daemon.api.get(f"{daemon.base}/configs/{name}/runs") as response:
                    runs = await response.json()
                assert [run["id"] for run in runs] == [run_ids[name]], f"{name}: {runs}"
                assert runs[0]["status"] == "succeeded", runs[0]
        products = await shop_products(simulator)
        skus = sorted(variant["sku"] for product in products for variant in product["variants"]["nodes"])
        assert skus == sorted(f"{name}-{n}" for name in feeds for n in range(COUNT))
    finally:
        redis.kill()


@asynccontextmanager
async def small_disk(path: Path, size: str) -> AsyncIterator[Callable[[str], None]]:
    """A tmpfs of `size` mounted at `path`; yields a function that resizes it."""
    path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a local directory, made once
    mounted = subprocess.run(  # noqa: ASYNC221 - mount returns at once
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")

    def resize(new_size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(path)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)  # noqa: ASYNC221 - returns at once


async def test_full_work_disk_fails_the_run_cleanly(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path, clean_redis: Any
) -> None:
    """The work directory's disk fills up while a run spools its feed: the run fails with an error naming
    the directory and the cause, nothing is sent to Shopify and nothing is recorded as synced, no file is
    left behind; once there is room, the next run converges."""
    simulator = await start_shopify()
    feed = tmp_path / "feed.csv"
    count = 600
    feed.write_text(
        "sku,title,price\n" + "".join(f"DISK-{n},Product {n} {'x' * 80},9.50\n" for n in range(count))
    )
    work = tmp_path / "work"
    async with small_disk(work, "32k") as resize:
        env = erpsync_env(settings, tmp_path, shop_url=simulator.base_url)
        async with serving(env) as daemon:
            assert (await daemon.post("/configs", file_config("disk", feed)))[0] == 201
            status, queued = await daemon.post("/sync/disk")
            assert status == 202, queued

            async def ended() -> dict[str, Any] | None:
                async with daemon.api.get(f"{daemon.base}/runs/{queued['run_id']}") as response:
                    run = await response.json()
                return run if run["finished_at"] else None

            await poll_until(ended, seconds=60, every=0.2)
            run = await ended()
            assert run is not None
            assert run["status"] == "failed", run
            assert "No space left on device" in run["error"], run["error"]
            assert f"work directory {work}" in run["error"], run["error"]
            assert (await daemon.health())[0] == 200
            assert await db.fetchval("SELECT count(*) FROM product_states WHERE config_id = 'disk'") == 0
            assert await shop_products(simulator) == []
            assert [path for path in work.rglob("*") if path.is_file()] == [], "a file was left behind"

            resize("64m")
            status, second = await daemon.post("/sync/disk")
            assert status == 202, second

            async def second_ended() -> bool:
                async with daemon.api.get(f"{daemon.base}/runs/{second['run_id']}") as response:
                    return bool((await response.json())["finished_at"])

            await poll_until(second_ended, seconds=120, every=0.2)
            async with daemon.api.get(f"{daemon.base}/runs/{second['run_id']}") as response:
                assert (await response.json())["status"] == "succeeded"
    products = await shop_products(simulator)
    assert len(products) == count
    assert sorted(v["sku"] for p in products for v in p["variants"]["nodes"]) == sorted(
        f"DISK-{n}" for n in range(count)
    )
