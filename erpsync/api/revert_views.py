"""`POST /runs/{run_id}/revert`: queue the inverse of a finished run as a run of its config, or, with
`?dry_run=true`, answer what it would do and leave alone, writing nothing (`erpsync.revert`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from erpsync.api.keys import POOL, REDIS, SETTINGS
from erpsync.api.problems import error_response
from erpsync.api.schemas import BIGINT_MAX, RevertQuery
from erpsync.api.views import json_response
from erpsync.constants import RunStatus
from erpsync.jobs import enqueue_revert
from erpsync.locks import SyncBusy
from erpsync.revert import RevertRefused, check_revertible
from erpsync.sync import run_sync


async def revert_run(request: web.Request) -> web.Response:
    """202 with the revert's queued run; 200 with its plan for a dry run; 404/409 saying why not."""
    raw = request.match_info["run_id"]
    run_id = int(raw) if raw.isdigit() else 0
    if not 1 <= run_id <= BIGINT_MAX:
        return error_response(404, "not_found", f"no run with id {raw}")
    query = RevertQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    try:
        target = await check_revertible(pool, run_id)
    except RevertRefused as exc:
        return error_response(exc.http_status, exc.code, str(exc))
    if query.dry_run:
        try:
            result = await run_sync(
                request.app[SETTINGS], pool, target.config_id, trigger="revert", dry_run=True,
                reverts_run_id=run_id, allow_mass_delete=query.allow_mass_delete,
            )  # fmt: skip
        except SyncBusy as exc:
            return error_response(409, "sync_in_progress", str(exc))
        if result.status != RunStatus.DRY_RUN:
            return error_response(422, "dry_run_failed", f"the dry run failed: {result.error}")
        body: dict[str, Any] = {
            "status": result.status,
            "reverts_run_id": run_id,
            "plan": result.plan,
            "counts": result.counts,
            "details": result.details,
        }
        return json_response(body)
    outcome = await enqueue_revert(
        request.app[REDIS], pool, target.config_id, run_id, allow_mass_delete=query.allow_mass_delete
    )
    if not outcome.created:
        response = error_response(
            409,
            "sync_in_progress",
            f"config {target.config_id!r} has run {outcome.run_id} {outcome.status}: "
            "ask for the revert again once it ended",
            [{"field": "run_id", "message": str(outcome.run_id)}],
        )
        response.headers["Location"] = f"/runs/{outcome.run_id}"
        return response
    queued: dict[str, Any] = {
        "run_id": outcome.run_id,
        "status": RunStatus.QUEUED.value,
        "created": True,
        "reverts_run_id": run_id,
    }
    if outcome.redis_down:
        queued["warning"] = (
            "Redis is unreachable: the run is kept queued in PostgreSQL and starts once Redis answers again"
        )
    response = json_response(queued, status=202)
    response.headers["Location"] = f"/runs/{outcome.run_id}"
    return response


def setup_revert_routes(app: web.Application) -> None:
    app.router.add_post("/runs/{run_id}/revert", revert_run)
