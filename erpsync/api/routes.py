"""The route table: every endpoint of the API in one place."""

from __future__ import annotations

from aiohttp import web

from erpsync.api import views
from erpsync.api.drift_views import setup_drift_routes
from erpsync.api.journal_views import setup_journal_routes
from erpsync.api.openapi import build_openapi
from erpsync.api.revert_views import setup_revert_routes
from erpsync.api.sync_views import setup_sync_routes


async def openapi(request: web.Request) -> web.Response:
    return views.json_response(build_openapi())


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", views.health)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/configs", views.list_configs)
    app.router.add_post("/configs", views.create_config)
    app.router.add_get("/configs/{id}", views.get_config)
    app.router.add_put("/configs/{id}", views.replace_config)
    app.router.add_patch("/configs/{id}", views.patch_config)
    app.router.add_delete("/configs/{id}", views.delete_config)
    app.router.add_get("/configs/{id}/logs", views.list_config_logs)
    app.router.add_get("/logs", views.list_logs)
    setup_sync_routes(app)
    setup_journal_routes(app)
    setup_revert_routes(app)
    setup_drift_routes(app)
