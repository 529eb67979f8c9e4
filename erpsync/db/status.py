"""What `/sync/status` and `/metrics` read: each config's last and current run, runs active now, and
each config's last success."""

from __future__ import annotations

from typing import Any

from erpsync.db.pool import Executor
from erpsync.db.schedules import SCHEDULE_COLUMNS

SELECT_STATUS = f"""
SELECT c.id, c.enabled, {SCHEDULE_COLUMNS},
       last.id AS last_id, last.status AS last_status, last.started_at AS last_started,
       last.finished_at AS last_finished, last.error AS last_error, last.counts AS last_counts,
       running.id AS running_id, running.status AS running_status
FROM product_sync_configs c
LEFT JOIN LATERAL (SELECT * FROM sync_runs r WHERE r.config_id = c.id AND r.finished_at IS NOT NULL
                   ORDER BY r.id DESC LIMIT 1) last ON true
LEFT JOIN LATERAL (SELECT * FROM sync_runs r WHERE r.config_id = c.id AND r.status IN ('queued', 'running')
                   ORDER BY r.id LIMIT 1) running ON true
ORDER BY c.id
"""
SELECT_ACTIVE_RUNS = """
SELECT status, count(*) AS n FROM sync_runs WHERE status IN ('queued', 'running') AND NOT dry_run GROUP BY status
"""
SELECT_LAST_SUCCESS = """
SELECT config_id, extract(epoch FROM max(finished_at)) AS at FROM sync_runs
WHERE status IN ('succeeded', 'unchanged') AND NOT dry_run GROUP BY config_id
"""


async def config_status(conn: Executor) -> list[dict[str, Any]]:
    """One row per config: its schedule, its last finished run and the run queued or running."""
    return [dict(row) for row in await conn.fetch(SELECT_STATUS)]


async def active_run_counts(conn: Executor) -> dict[str, int]:
    """Runs queued and running now (dry runs aside), by status."""
    return {str(row["status"]): int(row["n"]) for row in await conn.fetch(SELECT_ACTIVE_RUNS)}


async def last_successes(conn: Executor) -> dict[str, float]:
    """Each config's last succeeded (or unchanged: the shop holds the feed) run's end, as a Unix time."""
    return {str(row["config_id"]): float(row["at"]) for row in await conn.fetch(SELECT_LAST_SUCCESS)}
