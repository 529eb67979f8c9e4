"""Constants and helpers shared by the tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

ADMIN_DSN = os.environ.get("ERPSYNC_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _worker_redis(url: str) -> str:
    """Each pytest-xdist worker (gw0, gw1, ...) gets its own Redis database, counting down from the one
    given: tests flush theirs, and two workers on one database would empty each other's queues."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    base, _, database = url.rpartition("/")
    return f"{base}/{(int(database or 0) - int(worker[2:])) % 16}"


REDIS_URL = _worker_redis(os.environ.get("ERPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
API_TOKEN = "test-api-token-5f1c9a"
SECRET_KEY = "test-secret-key-0123456789abcdef"
SIM_TOKEN = "shpat_simulated_token"


def dsn_for(database: str) -> str:
    """The admin DSN pointed at another database."""
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_healthy(api: aiohttp.ClientSession, port: int) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with api.get(f"http://127.0.0.1:{port}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)


async def poll_until(check: Any, *, seconds: float = 30.0, every: float = 0.05) -> None:
    """Await `check()` until it is truthy; fail the test after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(every)


def erpsync_env(settings: Any, root: Path, *, shop_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of an `erpsync` subprocess aimed at this test's database, Redis, files and shop."""
    assert settings.security.secret_key is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
    env.update(
        DATABASE_URL=settings.database.url,
        REDIS_URL=REDIS_URL,
        ERPSYNC_SECURITY__SECRET_KEY=settings.security.secret_key.get_secret_value(),
        ERPSYNC_SYNC__WORK_DIR=str(root / "work"),
        ERPSYNC_SYNC__FILE_ROOT=str(root),
        ERPSYNC_LOG__FORMAT="json",
    )
    if shop_url is not None:
        env.update(
            SHOPIFY_SHOP="acme.myshopify.com",
            SHOPIFY_ACCESS_TOKEN=SIM_TOKEN,
            ERPSYNC_SHOPIFY__BASE_URL=shop_url,
            ERPSYNC_SHOPIFY__POLL_INTERVAL="0.05",
        )
    env.update(extra)
    return env


SHOP_PRODUCTS_QUERY = """query($after: String) { products(first: 50, after: $after) {
  nodes { id handle title variants(first: 5) { nodes { sku price } } } pageInfo { hasNextPage endCursor } } }"""


async def shop_products(simulator: Any) -> list[dict[str, Any]]:
    """Every product in the simulated shop, page by page, read over raw HTTP.

    A page refused by an injected fault or by the query-cost bucket is asked again after a pause.
    """
    url = f"{simulator.base_url}/admin/api/2026-10/graphql.json"
    found: list[dict[str, Any]] = []
    after = None
    while True:
        async with simulator.session.post(
            url,
            json={"query": SHOP_PRODUCTS_QUERY, "variables": {"after": after}},
            headers={"X-Shopify-Access-Token": SIM_TOKEN},
        ) as response:
            body = await response.json() if response.status == 200 else {}
        if "data" not in body:
            assert response.status != 200 or "THROTTLED" in str(body), body
            await asyncio.sleep(0.3)
            continue
        page = body["data"]["products"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def erpsync(
    env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`erpsync ARGS` in a subprocess, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "erpsync", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


async def erpsync_awaited(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`erpsync ARGS` awaited, so that a simulator in the test's event loop can answer it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "erpsync", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())
