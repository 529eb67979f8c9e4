"""What the scheduler reads (each enabled config's schedule and recent runs) and the advisory locks:
the one that makes one process of many the one that schedules, and each config's run lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from erpsync.db.pool import Executor

# What `scheduler.next_due` needs of config `c`, as the columns of a SELECT: its schedule, when it
# was enabled, its last run's start and how many runs failed in a row since the last that did not
# (a failing config is tried again sooner). `/sync/status` reads the same columns (status.py).
SCHEDULE_COLUMNS = """
c.config->>'schedule' AS schedule, (c.config->>'sync_frequency')::float8 AS hours, c.enabled_at,
(SELECT max(coalesce(r.started_at, r.queued_at)) FROM sync_runs r
 WHERE r.config_id = c.id AND NOT r.dry_run) AS last_start,
(SELECT count(*) FROM sync_runs f
 WHERE f.config_id = c.id AND NOT f.dry_run AND f.status = 'failed'
   AND f.id > coalesce((SELECT max(o.id) FROM sync_runs o WHERE o.config_id = c.id AND NOT o.dry_run
                        AND o.finished_at IS NOT NULL AND o.status <> 'failed'), 0)) AS failures
"""
SELECT_SCHEDULES = f"SELECT c.id, {SCHEDULE_COLUMNS} FROM product_sync_configs c WHERE c.enabled"
TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"
# A config's run lock: keyed by text (`erpsync:config:ID`), hashed to the lock's integer.
TRY_TEXT_LOCK = "SELECT pg_try_advisory_lock(hashtext($1))"
TEXT_UNLOCK = "SELECT pg_advisory_unlock(hashtext($1))"
PING = "SELECT 1"


@dataclass(frozen=True, slots=True)
class Schedule:
    config_id: str
    cron: str | None
    hours: float | None
    enabled_at: datetime | None
    last_start: datetime | None
    failures: int


async def enabled_schedules(conn: Executor) -> list[Schedule]:
    rows = await conn.fetch(SELECT_SCHEDULES)
    return [
        Schedule(
            row["id"],
            row["schedule"],
            row["hours"],
            row["enabled_at"],
            row["last_start"],
            int(row["failures"]),
        )
        for row in rows
    ]


async def try_lock(conn: Executor, key: int) -> bool:
    """Take the session-level advisory lock `key` if no other session holds it."""
    return bool(await conn.fetchval(TRY_LOCK, key))


async def unlock(conn: Executor, key: int) -> None:
    await conn.execute(UNLOCK, key)


async def ping(conn: Executor) -> None:
    """Raises if the session (and any lock it holds) is gone."""
    await conn.fetchval(PING)


async def try_text_lock(conn: Executor, key: str) -> bool:
    return bool(await conn.fetchval(TRY_TEXT_LOCK, key))


async def text_unlock(conn: Executor, key: str) -> None:
    await conn.execute(TEXT_UNLOCK, key)
