"""Handlers of the sync API: trigger a run, watch runs, and the status of every config."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from erpsync import metrics
from erpsync.api.keys import POOL, REDIS, SECRET_BOX, SETTINGS, STATUS_SNAPSHOT
from erpsync.api.problems import error_response
from erpsync.api.schemas import BIGINT_MAX, RunsQuery, SyncQuery
from erpsync.api.views import json_response
from erpsync.constants import RunStatus
from erpsync.db import configs as config_store
from erpsync.db import drift as drift_store
from erpsync.db import runs as run_store
from erpsync.db import status as status_store
from erpsync.jobs import enqueue_sync, queue_depth
from erpsync.locks import SyncBusy
from erpsync.scheduler import next_due
from erpsync.sync import run_sync


async def trigger_sync(request: web.Request) -> web.Response:
    """202 with the queued run; 409 naming the run in progress; `?dry_run=true` answers the plan itself."""
    config_id = request.match_info["id"]
    query = SyncQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    await config_store.get_config(pool, request.app[SECRET_BOX], config_id)
    if query.dry_run:
        try:
            result = await run_sync(request.app[SETTINGS], pool, config_id, trigger="api", dry_run=True)
        except SyncBusy as exc:
            return error_response(409, "sync_in_progress", str(exc))
        plan_body: dict[str, Any] = {
            "status": result.status,
            "plan": result.plan,
            "counts": result.counts,
            "details": result.details,
            "error": result.error,
        }
        if result.status != RunStatus.DRY_RUN:
            return error_response(422, "dry_run_failed", f"the dry run failed: {result.error}")
        return json_response(plan_body)
    outcome = await enqueue_sync(
        request.app[REDIS], pool, config_id, trigger="api", allow_mass_delete=query.allow_mass_delete
    )
    if outcome.status == RunStatus.RUNNING:
        response = error_response(
            409,
            "sync_in_progress",
            f"config {config_id!r} is syncing now (run {outcome.run_id})",
            [{"field": "run_id", "message": str(outcome.run_id)}],
        )
        response.headers["Location"] = f"/runs/{outcome.run_id}"
        return response
    body: dict[str, Any] = {
        "run_id": outcome.run_id,
        "status": RunStatus.QUEUED.value,
        "created": outcome.created,
    }
    if outcome.redis_down:
        body["warning"] = (
            "Redis is unreachable: the run is kept queued in PostgreSQL and starts once Redis answers again"
        )
    response = json_response(body, status=202)
    response.headers["Location"] = f"/runs/{outcome.run_id}"
    return response


async def get_run(request: web.Request) -> web.Response:
    try:
        run_id = int(request.match_info["run_id"])
    except ValueError:
        return error_response(404, "not_found", "run ids are numbers")
    if not 1 <= run_id <= BIGINT_MAX:
        return error_response(404, "not_found", f"no run with id {run_id}")
    run = await run_store.get_run(request.app[POOL], run_id)
    if run is None:
        return error_response(404, "not_found", f"no run with id {run_id}")
    return json_response(run.as_json())


async def list_config_runs(request: web.Request) -> web.Response:
    config_id = request.match_info["id"]
    query = RunsQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    await config_store.get_config(pool, request.app[SECRET_BOX], config_id)
    runs = await run_store.list_runs(pool, config_id, limit=query.limit)
    return json_response([run.as_json() for run in runs])


async def sync_status(request: web.Request) -> web.Response:
    """Per config: enabled, last run and outcome, next scheduled time, running now; and the queue depth.

    Computed at most once per `api.status_cache_seconds` (see `Snapshot`): pollers see state at most
    that old, and this process's own triggers show at once.
    """
    app = request.app
    body = await app[STATUS_SNAPSHOT].get(lambda: _status_body(app))
    return web.Response(body=body, content_type="application/json")


async def _status_body(app: web.Application) -> bytes:
    rows = await status_store.config_status(app[POOL])
    now = datetime.now(UTC)
    sync = app[SETTINGS].sync
    configs = []
    for row in rows:
        due = next_due(
            hours=row["hours"],
            cron=row["schedule"],
            last_start=row["last_start"],
            now=now,
            enabled_at=row["enabled_at"],
            first_run=sync.first_run,
            failures=int(row["failures"]),
            retry_after=sync.retry_failed_after,
        )
        last = None
        if row["last_id"] is not None:
            counts = row["last_counts"] or {}
            last = {
                "run_id": row["last_id"],
                "status": row["last_status"],
                "error": row["last_error"],
                "started_at": _iso(row["last_started"]),
                "finished_at": _iso(row["last_finished"]),
                "counts": {
                    key: counts.get(key) for key in ("created", "updated", "deleted", "unchanged", "failed")
                },
            }
        configs.append(
            {
                "config_id": row["id"],
                "enabled": row["enabled"],
                "last_run": last,
                "next_run_at": _iso(max(due, now)) if row["enabled"] else None,
                "running": (
                    {"run_id": row["running_id"], "status": row["running_status"]}
                    if row["running_id"]
                    else None
                ),
            }
        )
    depth = await queue_depth(app[REDIS])
    return orjson.dumps({"configs": configs, "queue_depth": depth})


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus text format; state gauges are refreshed now, counters are what this process saw."""
    with contextlib.suppress(OSError):
        metrics.QUEUE_DEPTH.set(await queue_depth(request.app[REDIS]))
    for config_id, at in (await status_store.last_successes(request.app[POOL])).items():
        metrics.LAST_SUCCESS.labels(config_id=config_id).set(at)
    metrics.DRIFT_OPEN.clear()
    for config_id, shop, count in await drift_store.open_counts(request.app[POOL]):
        metrics.DRIFT_OPEN.labels(config_id=config_id, shop=shop).set(count)
    active = await status_store.active_run_counts(request.app[POOL])
    for status in (RunStatus.QUEUED, RunStatus.RUNNING):
        metrics.RUNS_ACTIVE.labels(status=status).set(active.get(status, 0))
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def setup_sync_routes(app: web.Application) -> None:
    app.router.add_post("/sync/{id}", trigger_sync)
    app.router.add_get("/sync/status", sync_status)
    app.router.add_get("/runs/{run_id}", get_run)
    app.router.add_get("/configs/{id}/runs", list_config_runs)
    app.router.add_get("/metrics", metrics_view)
