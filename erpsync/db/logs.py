"""`sync_logs`: what a run had to say, per SKU where there is one, newest first with a cursor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from erpsync.db.pool import Executor
from erpsync.logs import scrub

# Keyset pagination on id: stable while new lines arrive, and served by the (…, id DESC) indexes.
SELECT_LOGS = """
SELECT id, config_id, run_id, level, sku, message, details, created_at
FROM sync_logs
WHERE ($1::text IS NULL OR config_id = $1)
  AND ($2::text[] IS NULL OR level = ANY($2))
  AND ($3::timestamptz IS NULL OR created_at >= $3)
  AND ($4::bigint IS NULL OR id < $4)
  AND ($5::bigint IS NULL OR run_id = $5)
ORDER BY id DESC
LIMIT $6
"""
# Lines after a cursor, oldest first: what `erpsync logs --follow` prints as they arrive.
SELECT_LOGS_AFTER = """
SELECT id, config_id, run_id, level, sku, message, details, created_at
FROM sync_logs
WHERE ($1::text IS NULL OR config_id = $1)
  AND ($2::text[] IS NULL OR level = ANY($2))
  AND id > $3
  AND ($4::bigint IS NULL OR run_id = $4)
ORDER BY id
LIMIT $5
"""
INSERT_LOG = """
INSERT INTO sync_logs (config_id, run_id, level, sku, message, details) VALUES ($1, $2, $3, $4, $5, $6)
"""

LEVEL_ORDER = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class LogLine:
    id: int
    config_id: str
    run_id: int | None
    level: str
    sku: str | None
    message: str
    details: Any
    created_at: datetime


def levels_at_least(level: str) -> list[str]:
    """`warning` selects warning and error, as an operator filtering a log expects."""
    return list(LEVEL_ORDER[LEVEL_ORDER.index(level) :])


async def list_logs(
    conn: Executor,
    *,
    config_id: str | None = None,
    min_level: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    run_id: int | None = None,
    limit: int = 100,
) -> list[LogLine]:
    levels = levels_at_least(min_level) if min_level else None
    rows = await conn.fetch(SELECT_LOGS, config_id, levels, since, before_id, run_id, limit)
    return [LogLine(**dict(row)) for row in rows]


async def logs_after(
    conn: Executor,
    after_id: int,
    *,
    config_id: str | None = None,
    min_level: str | None = None,
    run_id: int | None = None,
    limit: int = 1000,
) -> list[LogLine]:
    """Lines newer than `after_id`, oldest first."""
    levels = levels_at_least(min_level) if min_level else None
    rows = await conn.fetch(SELECT_LOGS_AFTER, config_id, levels, after_id, run_id, limit)
    return [LogLine(**dict(row)) for row in rows]


# A stored line: config id, run id, level, SKU, message, details.
LogRow = tuple[str, int | None, str, str | None, str, Any]


async def add_logs(conn: Executor, rows: Iterable[LogRow]) -> None:
    """Store many lines at once; registered secrets are scrubbed from each, as in the process log."""
    await conn.executemany(
        INSERT_LOG,
        [
            (config_id, run_id, level, sku, scrub(message), details)
            for config_id, run_id, level, sku, message, details in rows
        ],
    )


async def add_log(
    conn: Executor,
    *,
    config_id: str,
    run_id: int | None,
    level: str,
    message: str,
    sku: str | None = None,
    details: Any = None,
) -> None:
    """Store one line; registered secrets are scrubbed, as in the process log."""
    await conn.execute(INSERT_LOG, config_id, run_id, level, sku, scrub(message), details)
