"""Migrations: applied once, in order, recorded, and safe when two `erpsync migrate` start at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from support import ADMIN_DSN, dsn_for

from erpsync.db.migrate import apply_migrations, load_migrations
from erpsync.errors import MigrationError


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database with nothing in it, dropped afterwards."""
    name = f"erpsync_migrate_{os.getpid()}_{id(object()) % 10_000}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn_for(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrate_creates_the_tables_and_is_idempotent(empty_database: str) -> None:
    """The first run creates every table; the second finds nothing to do and changes nothing."""
    conn = await asyncpg.connect(empty_database)
    try:
        applied = await apply_migrations(conn)
        assert applied == [migration.name for migration in load_migrations()]
        tables = {
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"product_sync_configs", "products", "sync_runs", "sync_logs", "schema_migrations"} <= tables
        assert await apply_migrations(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        await conn.close()


async def test_two_concurrent_migrate_commands_do_not_collide(empty_database: str) -> None:
    """Two `erpsync migrate` started together both succeed, and each migration is applied once."""
    env = {**os.environ, "DATABASE_URL": empty_database}
    env.pop("ERPSYNC_CONFIG", None)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "erpsync",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    stdout = b"".join(out for out, _ in outputs).decode()
    assert stdout.count("applied 0001_init.sql") == 1
    assert "up to date" in stdout
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_and_names_the_file(empty_database: str, tmp_path: Path) -> None:
    """A broken migration leaves no half-made table and is not recorded; the error names the file."""
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE first_table (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE second_table (id int); SELECT * FROM nowhere;")
    conn = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(MigrationError, match=r"0002_broken\.sql"):
            await apply_migrations(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('second_table')") is None
        assert await conn.fetchval("SELECT to_regclass('first_table')") is not None
        versions = [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")]
        assert versions == [1]
    finally:
        await conn.close()


async def test_edited_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    """Editing an applied migration is caught instead of silently diverging from other databases."""
    path = tmp_path / "0001_ok.sql"
    path.write_text("CREATE TABLE t (id int);")
    conn: Any = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(conn, tmp_path)
        path.write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, tmp_path)
    finally:
        await conn.close()


def test_migrations_ship_inside_the_wheel(tmp_path: Path) -> None:
    """A built wheel carries the SQL files, so an installed erpsync can migrate without the source tree."""
    import zipfile

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("erpsync-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    expected = {f"erpsync/sql/{path.name}" for path in (root / "sql").glob("*.sql")}
    assert expected
    assert expected <= set(names)
