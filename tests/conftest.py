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

ADMIN_DSN = os.environ.get("ERPSYNC_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ERPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
API_TOKEN = "test-api-token-5f1c9a"
SECRET_KEY = "test-secret-key-0123456789abcdef"
TABLES = "sync_logs, products, sync_runs, product_sync_configs"


def _dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


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
        conn = await asyncpg.connect(_dsn_for(name))
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
    yield _dsn_for(name)
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
