"""Old runs, log lines and journal rows pruned by age (`[sync] journal_days`), by the scheduler's leader.

Each config keeps its latest run and its latest succeeded run whatever their age: the scheduler
measures the next run from the one, a run compares its feed with the other's. Deleting in batches
keeps each statement's locks short on a large log table. Journal rows go by their own age first, so a
kept run's old journal goes too and a pruned run's cascade has little left to delete.
"""

from __future__ import annotations

from datetime import datetime

from erpsync.db.changes import prune_changes
from erpsync.db.pool import Executor

BATCH = 10_000
PRUNE_LOGS = """
DELETE FROM sync_logs WHERE id IN (SELECT id FROM sync_logs WHERE created_at < $1 LIMIT $2)
"""
PRUNE_RUNS = """
DELETE FROM sync_runs WHERE id IN (
    SELECT r.id FROM sync_runs r
    WHERE coalesce(r.finished_at, r.queued_at) < $1 AND r.status NOT IN ('queued', 'running')
      AND r.id NOT IN (
          SELECT max(id) FROM sync_runs WHERE NOT dry_run GROUP BY config_id
          UNION ALL
          SELECT max(id) FROM sync_runs WHERE NOT dry_run AND status = 'succeeded' GROUP BY config_id
      )
    LIMIT $2
)
"""

PRUNE_NOTIFICATIONS = """
DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE created_at < $1 LIMIT $2)
"""
# Drift findings settled before the age go with the journal; open ones stay, whatever their age.
PRUNE_SETTLED_DRIFT = """
DELETE FROM drift_findings WHERE id IN (
    SELECT id FROM drift_findings WHERE state = 'settled' AND settled_at < $1 LIMIT $2)
"""


async def prune_history(conn: Executor, before: datetime, *, batch: int = BATCH) -> tuple[int, int, int]:
    """Delete journal rows, finished runs and log lines older than `before`; (runs, log lines, journal
    rows) deleted."""
    changes = await prune_changes(conn, before, batch)
    counts = []
    for statement in (PRUNE_RUNS, PRUNE_LOGS, PRUNE_NOTIFICATIONS, PRUNE_SETTLED_DRIFT):
        total = 0
        while True:
            status = await conn.execute(statement, before, batch)
            deleted = int(status.rsplit(" ", 1)[-1])
            total += deleted
            if deleted < batch:
                break
        counts.append(total)
    return counts[0], counts[1], changes  # notifications and settled drift go uncounted: the runs' shadow


__all__ = ["prune_history"]
