"""SQL of webhook notifications: finished runs not yet looked at, each config's open problem, and
the deliveries waiting to be sent (sql/0006_notifications.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from erpsync.db.pool import Executor

SELECT_UNNOTIFIED = """
SELECT id, config_id, status, error, counts, finished_at FROM sync_runs
WHERE NOT notified AND finished_at IS NOT NULL
ORDER BY finished_at, id
LIMIT $1
"""
MARK_NOTIFIED = "UPDATE sync_runs SET notified = true WHERE id = $1"
SELECT_PROBLEM = "SELECT problem FROM notify_states WHERE config_id = $1"
SET_PROBLEM = """
INSERT INTO notify_states (config_id, problem, run_id) VALUES ($1, $2, $3)
ON CONFLICT (config_id) DO UPDATE SET problem = EXCLUDED.problem, run_id = EXCLUDED.run_id, changed_at = now()
"""
INSERT_NOTIFICATION = """
INSERT INTO notifications (config_id, run_id, event, webhook, payload) VALUES ($1, $2, $3, $4, $5)
"""
SELECT_DUE = """
SELECT id, webhook, event, payload::text AS body, attempts FROM notifications
WHERE delivered_at IS NULL AND next_attempt_at <= now() AND attempts < $1
ORDER BY id
LIMIT $2
"""
MARK_DELIVERED = (
    "UPDATE notifications SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1"
)
MARK_FAILED = """
UPDATE notifications SET attempts = attempts + 1, last_error = $2,
    next_attempt_at = now() + make_interval(secs => $3)
WHERE id = $1
"""
SELECT_DELIVERIES = """
SELECT id, config_id, run_id, event, webhook, attempts, delivered_at, last_error FROM notifications ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class FinishedRun:
    id: int
    config_id: str
    status: str
    error: str | None
    counts: dict[str, Any]
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    webhook: str
    event: str
    body: str
    attempts: int


async def unnotified_runs(conn: Executor, limit: int = 200) -> list[FinishedRun]:
    """Finished runs not yet looked at, in the order they finished."""
    rows = await conn.fetch(SELECT_UNNOTIFIED, limit)
    return [
        FinishedRun(
            int(row["id"]),
            row["config_id"],
            row["status"],
            row["error"],
            dict(row["counts"] or {}),
            row["finished_at"],
        )
        for row in rows
    ]


async def mark_notified(conn: Executor, run_id: int) -> None:
    await conn.execute(MARK_NOTIFIED, run_id)


async def open_problem(conn: Executor, config_id: str) -> str | None:
    value = await conn.fetchval(SELECT_PROBLEM, config_id)
    return None if value is None else str(value)


async def set_problem(conn: Executor, config_id: str, problem: str | None, run_id: int) -> None:
    await conn.execute(SET_PROBLEM, config_id, problem, run_id)


async def add_notification(
    conn: Executor, *, config_id: str, run_id: int, event: str, webhook: str, payload: dict[str, Any]
) -> None:
    await conn.execute(INSERT_NOTIFICATION, config_id, run_id, event, webhook, payload)


async def due_notifications(conn: Executor, *, max_attempts: int, limit: int = 100) -> list[Due]:
    rows = await conn.fetch(SELECT_DUE, max_attempts, limit)
    return [
        Due(int(row["id"]), row["webhook"], row["event"], row["body"], int(row["attempts"])) for row in rows
    ]


async def mark_delivered(conn: Executor, notification_id: int) -> None:
    await conn.execute(MARK_DELIVERED, notification_id)


async def mark_failed(conn: Executor, notification_id: int, error: str, retry_in: float) -> None:
    await conn.execute(MARK_FAILED, notification_id, error, retry_in)


async def deliveries(conn: Executor) -> list[dict[str, Any]]:
    """Every delivery, oldest first (for tests and the operator's eye)."""
    return [dict(row) for row in await conn.fetch(SELECT_DELIVERIES)]
