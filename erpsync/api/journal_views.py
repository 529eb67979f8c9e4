"""Handlers of the journal: what a run did to each product, and what every run did to one product."""

from __future__ import annotations

from aiohttp import web

from erpsync.api.keys import POOL, SECRET_BOX
from erpsync.api.problems import error_response
from erpsync.api.schemas import BIGINT_MAX, ChangePage, ChangesQuery, HistoryQuery
from erpsync.api.views import json_response
from erpsync.db import changes as change_store
from erpsync.db import configs as config_store
from erpsync.db.changes import Change


def _page(changes: list[Change], limit: int) -> web.Response:
    page = ChangePage.model_validate(
        {
            "changes": [change.as_json() for change in changes],
            "next": changes[-1].id if len(changes) == limit else None,
        }
    )
    return json_response(page.model_dump(mode="json"))


async def list_run_changes(request: web.Request) -> web.Response:
    """A run's journal in order; `?action=update&sku=SKU-1` filter it, `after` pages on."""
    raw = request.match_info["run_id"]
    run_id = int(raw) if raw.isdigit() else 0
    if not 1 <= run_id <= BIGINT_MAX:
        return error_response(404, "not_found", f"no run with id {raw}")
    query = ChangesQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    if not await change_store.run_exists(pool, run_id):
        return error_response(404, "not_found", f"no run with id {run_id}")
    changes = await change_store.run_changes(
        pool, run_id, action=query.action, sku=query.sku, after=query.after, limit=query.limit
    )
    return _page(changes, query.limit)


async def product_history(request: web.Request) -> web.Response:
    """What every run did to the config's product holding this SKU on any variant, newest first."""
    config_id = request.match_info["id"]
    query = HistoryQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    await config_store.get_config(pool, request.app[SECRET_BOX], config_id)
    changes = await change_store.product_history(
        pool, config_id, request.match_info["sku"], before=query.before, limit=query.limit
    )
    return _page(changes, query.limit)


def setup_journal_routes(app: web.Application) -> None:
    app.router.add_get("/runs/{run_id}/changes", list_run_changes)
    app.router.add_get("/configs/{id}/products/{sku}/history", product_history)
