"""Fixtures that give tests the real services: a fresh PostgreSQL database per run, Redis, a live API.

The database is created when the run starts and dropped when it ends; tables are emptied between
tests. `ERPSYNC_TEST_ADMIN_DSN` points at a server where the user may create databases.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from support import ADMIN_DSN, API_TOKEN, REDIS_URL, SECRET_KEY, SIM_TOKEN, dsn_for

from erpsync.api.app import init_app
from erpsync.db.migrate import apply_migrations
from erpsync.db.pool import connect
from erpsync.settings import (
    ApiSettings,
    DatabaseSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
)

TABLES = "sync_logs, products, sync_runs, product_sync_configs"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of its own for this test run, migrated, dropped at the end."""
    name = f"erpsync_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def create() -> None:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn_for(name))
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    yield dsn_for(name)
    asyncio.run(drop())


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection to the run's database, with every table emptied first."""
    conn = await connect(DatabaseSettings(url=database_url))
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url),
        redis=RedisSettings(url=REDIS_URL),
        api=ApiSettings(host="127.0.0.1", port=0, token=SecretStr(API_TOKEN)),
        security=SecuritySettings(secret_key=SecretStr(SECRET_KEY)),
    )


@pytest.fixture
async def api(settings: Settings, db: asyncpg.Connection[Any]) -> AsyncIterator[TestClient[Any, Any]]:
    """A real HTTP client talking to a real API server on 127.0.0.1, with the token sent."""
    server = TestServer(init_app(settings), host="127.0.0.1")
    client: TestClient[Any, Any] = TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"})
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _ftp_config(config_id: str = "acme-main", **overrides: Any) -> dict[str, Any]:
    """A valid FTP sync config as a merchant would POST it."""
    body: dict[str, Any] = {
        "id": config_id,
        "name": "ACME ERP",
        "connection_type": "ftp",
        "credentials": {
            "host": "ftp.acme.test",
            "port": 21,
            "username": "acme",
            "password": "ftp-pass-Secr3t",
            "filePath": "/export/products.json",
        },
        "format": "json",
        "mapping": {"title": "productName", "variant.sku": "SKU", "variant.price": "price"},
        "metafield_mappings": [
            {
                "sourceKey": "customField",
                "metafieldNamespace": "custom",
                "metafieldKey": "field",
                "metafieldType": "single_line_text_field",
            }
        ],
        "sync_frequency": "24",
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_config() -> Any:
    """Factory of valid FTP sync configs: `make_config("id", name="...")`."""
    return _ftp_config


class RunningSimulator:
    """A simulator started on 127.0.0.1 for one test, with its admin endpoints for assertions."""

    def __init__(self, server: TestServer, session: Any) -> None:
        self.server = server
        self.session = session
        self.base_url = str(server.make_url("")).rstrip("/")

    def target(self, **overrides: Any) -> Any:
        from erpsync.shopify.client import ShopTarget

        values: dict[str, Any] = {
            "shop": "acme.myshopify.com",
            "base_url": self.base_url,
            "access_token": SecretStr(SIM_TOKEN),
            "retry_base_delay": 0.01,
            "retry_max_delay": 0.05,
            "poll_interval": 0.02,
        }
        values.update(overrides)
        return ShopTarget(**values)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, f"{self.base_url}{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.admin("GET", "/_simulator/stats")
        return result

    async def faults(self, **faults: Any) -> None:
        await self.admin("POST", "/_simulator/faults", faults)


@pytest.fixture
async def start_shopify() -> AsyncIterator[Any]:
    """Start Shopify simulators (options as keyword arguments); all stopped at the end of the test."""
    import aiohttp

    from shopify_simulator.server import SimulatorOptions, create_app

    started: list[RunningSimulator] = []

    async def start(**options: Any) -> RunningSimulator:
        values: dict[str, Any] = {
            "access_token": SIM_TOKEN,
            "bulk_rate": 5000.0,
            "bulk_random_seed": 3,
            "admin": True,
        }
        values.update(options)
        server = TestServer(create_app(SimulatorOptions(**values)), host="127.0.0.1", port=0)
        await server.start_server()
        running = RunningSimulator(server, aiohttp.ClientSession())
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        await running.session.close()
        await running.server.close()


@pytest.fixture
async def shopify(start_shopify: Any) -> Any:
    """One simulator with default options."""
    return await start_shopify()


@pytest.fixture
async def clean_redis() -> AsyncIterator[Any]:
    """The test Redis database, emptied before and after: no job of another test leaks in."""
    from arq import ArqRedis

    redis = ArqRedis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.flushdb()
        await redis.aclose()


@pytest.fixture
async def make_feed(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Any
) -> AsyncIterator[Any]:
    """Config `acme` over a CSV feed file of its own, synced against a fresh simulator:
    `make_feed(options={simulator options}, sync={[sync] settings}, **config fields)`."""
    from shop_support import Configs

    from erpsync.db.pool import create_pool

    pools: list[asyncpg.Pool[Any]] = []

    async def make(
        *, options: dict[str, Any] | None = None, sync: dict[str, Any] | None = None, **fields: Any
    ) -> Any:
        simulator = await start_shopify(**(options or {}))
        pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=5))
        pools.append(pool)
        configs = Configs(settings, pool, tmp_path, simulator)
        if sync:
            configs.settings = configs.settings.model_copy(
                update={"sync": configs.settings.sync.model_copy(update=sync)}
            )
        return await configs.add("acme", **fields)

    yield make
    for pool in pools:
        await pool.close()


@pytest.fixture
async def api_for() -> AsyncIterator[Any]:
    """A real API server on 127.0.0.1 over a feed's settings (its shop and work directory), per feed."""
    clients: list[TestClient[Any, Any]] = []

    async def make(feed: Any) -> TestClient[Any, Any]:
        server = TestServer(init_app(feed.configs.settings), host="127.0.0.1")
        client = TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"})
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
