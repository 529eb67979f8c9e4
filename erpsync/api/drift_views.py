"""`GET /configs/{id}/drift`: what the shop holds of a config's products that erpsync did not write."""

from __future__ import annotations

from aiohttp import web

from erpsync.api.keys import POOL, SECRET_BOX
from erpsync.api.schemas import DriftQuery, FindingPage
from erpsync.api.views import json_response
from erpsync.db import configs as config_store
from erpsync.db import drift as drift_store


async def list_drift(request: web.Request) -> web.Response:
    """Open findings (or `state=settled|all`), newest first; `after` pages on."""
    config_id = request.match_info["id"]
    query = DriftQuery.model_validate(dict(request.query))
    pool = request.app[POOL]
    await config_store.get_config(pool, request.app[SECRET_BOX], config_id)
    rows = await drift_store.list_findings(
        pool, config_id, state=query.state, after=query.after, limit=query.limit
    )
    page = FindingPage.model_validate(
        {"findings": rows, "next": rows[-1]["id"] if len(rows) == query.limit else None}
    )
    return json_response(page.model_dump(mode="json"))


def setup_drift_routes(app: web.Application) -> None:
    app.router.add_get("/configs/{id}/drift", list_drift)
