"""PostgreSQL connection pool: one per process, JSON columns decoded with orjson."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from erpsync.errors import DatabaseError
from erpsync.settings import DatabaseSettings

# Anything a query can run on: the pool itself, or a connection taken from it (or made alone).
Executor: TypeAlias = "asyncpg.Connection[Any] | asyncpg.Pool[Any] | PoolConnectionProxy[Any]"


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    """JSON columns in and out through orjson, in the binary format so that COPY can carry them too."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda value: b"\x01" + orjson.dumps(value),  # jsonb binary: version 1, then the text
        decoder=lambda data: orjson.loads(data[1:]),
        format="binary",
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="binary"
    )


# No JIT: erpsync's statements are index probes, COPYs and set-based updates of one run's rows, whose cost
# estimates cross `jit_above_cost` on a large catalogue; compiling them took longer than running them
# (6 ms of JIT for a 26 ms plan of the adoption lookups, measured with EXPLAIN ANALYZE).
SERVER_SETTINGS = {"jit": "off"}


async def create_pool(settings: DatabaseSettings, *, reachable: bool = False) -> asyncpg.Pool[Any]:
    """Open the pool, turning a refused connection into a `DatabaseError` that names the server.

    With `min_connections` 0 (the daemon starts while PostgreSQL is down) nothing connects yet;
    `reachable` asks for one connection now, for a command that must know before it starts."""
    try:
        pool = await asyncpg.create_pool(
            settings.url,
            min_size=settings.min_connections,
            max_size=settings.max_connections,
            timeout=settings.connect_timeout,
            init=_init_connection,
            server_settings=SERVER_SETTINGS,
        )
        assert pool is not None
        if reachable:
            try:
                async with pool.acquire():
                    pass
            except BaseException:
                pool.terminate()
                raise
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL at {describe_dsn(settings.url)}: {exc}") from exc
    return pool


async def connect(settings: DatabaseSettings) -> asyncpg.Connection[Any]:
    """One connection, for the CLI's short commands."""
    try:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            settings.url, timeout=settings.connect_timeout, server_settings=SERVER_SETTINGS
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL at {describe_dsn(settings.url)}: {exc}") from exc
    await _init_connection(conn)
    return conn


def describe_dsn(url: str) -> str:
    """The DSN without its password, fit for an error message."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{port}{parts.path}"


DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = $1"


def create_database_statement(name: str) -> str:
    """`CREATE DATABASE` for `name`, quoted as an identifier: it comes from a URL the operator gave."""
    return 'CREATE DATABASE "' + name.replace('"', '""') + '"'


async def create_database_if_missing(conn: asyncpg.Connection[Any], name: str) -> bool:
    """Create database `name` through an administrative connection; True if it was made now."""
    if await conn.fetchval(DATABASE_EXISTS, name):
        return False
    await conn.execute(create_database_statement(name))
    return True


async def ping(conn: Executor) -> None:
    """Raises unless PostgreSQL answers (`/health`)."""
    await conn.fetchval("SELECT 1")
