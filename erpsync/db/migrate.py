"""Apply the numbered SQL files in `sql/` in order, each in its own transaction, exactly once.

An advisory lock serialises concurrent `erpsync migrate` runs: the second waits, then finds
nothing pending. The files ship inside the wheel (`erpsync/sql/`) so an installed erpsync migrates
without the source tree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.constants import MIGRATION_LOCK_ID
from erpsync.errors import MigrationError

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """`erpsync/sql` in an installed wheel, else the source tree's `sql/`."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "sql", package_dir.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise MigrationError(f"no migrations directory found beside {package_dir}")


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Every migration file, sorted by version; two files with one version are an error."""
    folder = directory or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations share version {version}: {found[version].name}, {path.name}"
            )
        found[version] = Migration(version, path.name, path.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


async def apply_migrations(conn: asyncpg.Connection[Any], directory: Path | None = None) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(CREATE_MIGRATIONS_TABLE)
        applied = {row["version"]: row for row in await conn.fetch(SELECT_APPLIED)}
        done: list[str] = []
        for migration in migrations:
            previous = applied.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} changed after it was applied; add a new migration instead"
                    )
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(INSERT_APPLIED, migration.version, migration.name, migration.checksum)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)


SERVER_VERSION = "SHOW server_version"
HAS_MIGRATIONS_TABLE = "SELECT to_regclass('schema_migrations') IS NOT NULL"
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"


async def schema_state(conn: asyncpg.Connection[Any]) -> tuple[str, list[str]]:
    """The server's version and the names of the migrations not applied yet (for `erpsync check`)."""
    version = str(await conn.fetchval(SERVER_VERSION))
    done: set[int] = set()
    if await conn.fetchval(HAS_MIGRATIONS_TABLE):
        done = {int(row["version"]) for row in await conn.fetch(APPLIED_VERSIONS)}
    return version, [migration.name for migration in load_migrations() if migration.version not in done]
