"""`sync_runs`: one row per run, its stage, counts, timings and the bulk operations it must not lose."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from erpsync.constants import RunStatus
from erpsync.db.pool import Executor

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

INSERT_RUN = """
INSERT INTO sync_runs (config_id, status, trigger, dry_run, allow_mass_delete, reverts_run_id, reconcile)
VALUES ($1, 'queued', $2, $3, $4, $5, $6)
RETURNING id
"""
START_RUN = """
UPDATE sync_runs SET status = 'running', started_at = now(), heartbeat_at = now(), worker = $2, stage = 'fetch'
WHERE id = $1
"""
SET_STAGE = """
UPDATE sync_runs SET stage = $2, heartbeat_at = now(),
    timings = timings || jsonb_build_object($3::text, $4::float8)
WHERE id = $1
"""
SET_PROGRESS = "UPDATE sync_runs SET progress = progress || $2::jsonb, heartbeat_at = now() WHERE id = $1"
SET_FEED = "UPDATE sync_runs SET feed_sha256 = $2, feed_bytes = $3 WHERE id = $1"
SET_PLAN = "UPDATE sync_runs SET plan = $2 WHERE id = $1"
SET_BULK_OPERATIONS = "UPDATE sync_runs SET bulk_operations = $2 WHERE id = $1"
SET_BULK_OPERATION_FIELD = """
UPDATE sync_runs SET bulk_operations = jsonb_set(bulk_operations, ARRAY[$2::text, $3::text], $4::jsonb),
    heartbeat_at = now()
WHERE id = $1
"""
FINISH_RUN = """
UPDATE sync_runs SET status = $2, counts = counts || $3::jsonb, error = $4, finished_at = now(), stage = NULL,
    heartbeat_at = now()
WHERE id = $1
"""
SELECT_RUN = "SELECT * FROM sync_runs WHERE id = $1"
SELECT_RECONCILE = "SELECT reconcile FROM sync_runs WHERE id = $1"
SELECT_RUNNING = "SELECT * FROM sync_runs WHERE config_id = $1 AND status = 'running' ORDER BY id LIMIT 1"
SELECT_RECENT = """
SELECT * FROM sync_runs WHERE ($1::text IS NULL OR config_id = $1) ORDER BY id DESC LIMIT $2
"""
SELECT_LAST_GOOD_FEED = """
SELECT feed_sha256 FROM sync_runs
WHERE config_id = $1 AND status = 'succeeded' AND NOT dry_run AND feed_sha256 IS NOT NULL
ORDER BY id DESC LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    config_id: str
    status: str
    trigger: str
    dry_run: bool
    allow_mass_delete: bool
    reconcile: bool
    stage: str | None
    counts: dict[str, Any]
    timings: dict[str, float]
    progress: dict[str, Any]
    bulk_operations: list[dict[str, Any]]
    plan: dict[str, Any] | None
    error: str | None
    worker: str | None
    feed_sha256: str | None
    feed_bytes: int | None
    reverts_run_id: int | None  # a revert (trigger 'revert'): the run it reverts
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Run:
        return cls(**{name: row[name] for name in cls.__slots__})

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        for name in ("queued_at", "started_at", "finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


async def create_run(
    conn: Executor,
    config_id: str,
    *,
    trigger: str,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    reverts_run_id: int | None = None,
    reconcile: bool = False,
) -> int:
    """A queued run; `reverts_run_id`: a revert of that run (`erpsync.revert`); `reconcile`: it reads the
    whole shop first (erpsync/reconcile.py)."""
    run_id = await conn.fetchval(
        INSERT_RUN, config_id, trigger, dry_run, allow_mass_delete, reverts_run_id, reconcile
    )
    return int(run_id)


async def is_reconcile(conn: Executor, run_id: int) -> bool:
    return bool(await conn.fetchval(SELECT_RECONCILE, run_id))


async def start_run(conn: Executor, run_id: int) -> None:
    await conn.execute(START_RUN, run_id, WORKER_NAME)


async def set_stage(conn: Executor, run_id: int, stage: str, *, finished: str, seconds: float) -> None:
    """Enter `stage`, recording how long the stage before it (`finished`) took."""
    await conn.execute(SET_STAGE, run_id, stage, finished, round(seconds, 3))


async def set_progress(conn: Executor, run_id: int, progress: dict[str, Any]) -> None:
    await conn.execute(SET_PROGRESS, run_id, progress)


async def analyze_run_products(conn: Executor) -> None:
    """Fresh planner statistics for `run_products` once a run's rows are in: the table is emptied as each
    run ends, so the statistics autovacuum took may describe another run — a first sync's 100,000 rows —
    and lead the planner of a 1% re-sync to hash-join whole tables (a scan of every last-written state)
    where a few index lookups are the work. The table holds only the runs in progress: quick to sample."""
    await conn.execute("ANALYZE run_products")


async def set_feed(conn: Executor, run_id: int, sha256: str, size: int) -> None:
    await conn.execute(SET_FEED, run_id, sha256, size)


async def set_plan(conn: Executor, run_id: int, plan: dict[str, Any]) -> None:
    await conn.execute(SET_PLAN, run_id, plan)


async def set_bulk_operations(conn: Executor, run_id: int, operations: list[dict[str, Any]]) -> None:
    await conn.execute(SET_BULK_OPERATIONS, run_id, operations)


async def set_bulk_operation_field(conn: Executor, run_id: int, index: int, field: str, value: Any) -> None:
    """Record one fact of one bulk operation (its id the moment it exists, `done` once read)."""
    await conn.execute(SET_BULK_OPERATION_FIELD, run_id, str(index), field, value)


async def finish_run(
    conn: Executor, run_id: int, status: str, counts: dict[str, Any], error: str | None = None
) -> None:
    await conn.execute(FINISH_RUN, run_id, status, counts, error)


async def get_run(conn: Executor, run_id: int) -> Run | None:
    row = await conn.fetchrow(SELECT_RUN, run_id)
    return Run.from_row(row) if row is not None else None


async def get_running(conn: Executor, config_id: str) -> Run | None:
    row = await conn.fetchrow(SELECT_RUNNING, config_id)
    return Run.from_row(row) if row is not None else None


async def list_runs(conn: Executor, config_id: str | None = None, *, limit: int = 20) -> list[Run]:
    return [Run.from_row(row) for row in await conn.fetch(SELECT_RECENT, config_id, limit)]


async def last_good_feed(conn: Executor, config_id: str) -> str | None:
    value = await conn.fetchval(SELECT_LAST_GOOD_FEED, config_id)
    return str(value) if value is not None else None


# -- the queue's view of runs (jobs.py) -----------------------------------------------------------

SELECT_ACTIVE = """
SELECT id, status FROM sync_runs WHERE config_id = $1 AND status IN ('queued', 'running') ORDER BY id
"""
SELECT_QUEUED = """
SELECT id, config_id, allow_mass_delete FROM sync_runs
WHERE status = 'queued' AND queued_at < now() - make_interval(secs => $1)
ORDER BY id
"""
CANCEL_QUEUED = """
UPDATE sync_runs SET status = 'canceled', error = $2, finished_at = now() WHERE id = $1 AND status = 'queued'
"""


async def active_runs(conn: Executor, config_id: str) -> list[tuple[int, RunStatus]]:
    """The config's queued and running runs, (id, status), oldest first."""
    return [(int(row["id"]), RunStatus(row["status"])) for row in await conn.fetch(SELECT_ACTIVE, config_id)]


async def queued_runs(conn: Executor, older_than: float) -> list[tuple[int, str, bool]]:
    """Runs queued more than `older_than` seconds ago: (id, config id, allow_mass_delete)."""
    rows = await conn.fetch(SELECT_QUEUED, older_than)
    return [(int(row["id"]), str(row["config_id"]), bool(row["allow_mass_delete"])) for row in rows]


async def cancel_queued(conn: Executor, run_id: int, reason: str) -> None:
    """A queued run that will not run after all; a run that started meanwhile is left alone."""
    await conn.execute(CANCEL_QUEUED, run_id, reason)


SELECT_RUN_STATUS = "SELECT status FROM sync_runs WHERE id = $1"
SELECT_REVERTED = "SELECT reverts_run_id FROM sync_runs WHERE id = $1"
SELECT_QUEUED_RUN = (
    "SELECT id FROM sync_runs WHERE config_id = $1 AND status = 'queued' AND NOT dry_run ORDER BY id LIMIT 1"
)
SELECT_ABANDONED = "SELECT DISTINCT config_id FROM sync_runs WHERE status = 'running' AND NOT dry_run"


async def run_status(conn: Executor, run_id: int) -> str | None:
    value = await conn.fetchval(SELECT_RUN_STATUS, run_id)
    return None if value is None else str(value)


async def reverted_run(conn: Executor, run_id: int) -> int | None:
    """The run that run `run_id` reverts; None for an ordinary run."""
    value = await conn.fetchval(SELECT_REVERTED, run_id)
    return None if value is None else int(value)


async def queued_run(conn: Executor, config_id: str) -> int | None:
    """The config's queued run (not a dry run), if one waits."""
    value = await conn.fetchval(SELECT_QUEUED_RUN, config_id)
    return None if value is None else int(value)


async def configs_with_running_runs(conn: Executor) -> list[str]:
    """Configs with a run marked running: a live process's, or one a dead process left."""
    return [str(row["config_id"]) for row in await conn.fetch(SELECT_ABANDONED)]
