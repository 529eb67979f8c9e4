"""Handlers of the configuration API; each validates at the edge and calls one `db` function."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from erpsync.api.keys import POOL, REDIS, SECRET_BOX, SETTINGS
from erpsync.api.problems import error_response
from erpsync.api.schemas import CheckOut, HealthOut, LogLineOut, LogPage, LogQuery
from erpsync.api.text import problem_path
from erpsync.db import configs as config_store
from erpsync.db import logs as log_store
from erpsync.db.configs import StoredConfig
from erpsync.db.pool import ping
from erpsync.errors import DatabaseError
from erpsync.models import SyncConfig, public_view

HEALTH_TIMEOUT = 3.0


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


# Fields a config's view carries that are the store's, not the config's: ignored on the way in, so
# what GET (or `erpsync configs show`) printed can be sent back as it is.
READ_ONLY_FIELDS = ("created_at", "updated_at")


def without_read_only(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in READ_ONLY_FIELDS}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def stored_view(stored: StoredConfig) -> dict[str, Any]:
    view = public_view(stored.config)
    view["created_at"] = stored.created_at.isoformat()
    view["updated_at"] = stored.updated_at.isoformat()
    return view


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; the size limit is aiohttp's `client_max_size` (413 beyond it).

    A client that sends its body slower than `api.body_timeout` allows gets 408 rather than holding a
    connection and a handler forever.
    """
    try:
        async with asyncio.timeout(request.app[SETTINGS].api.body_timeout):
            raw = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            reason=f"the body did not arrive within {request.app[SETTINGS].api.body_timeout:g} seconds"
        ) from None
    if not raw.strip():
        raise web.HTTPBadRequest(reason="the body is empty; a JSON object is expected")
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    # orjson refuses invalid UTF-8 and lone surrogates itself; a NUL is valid JSON, but not storable.
    found = problem_path(data) if b"\\u0000" in raw else None
    if found:
        raise ValidationFailed(*found)
    return data


class ValidationFailed(Exception):
    """A body problem found before pydantic sees the body; answered 422 like pydantic's own."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def list_configs(request: web.Request) -> web.Response:
    stored = await config_store.list_configs(request.app[POOL], request.app[SECRET_BOX])
    return json_response([stored_view(item) for item in stored])


async def get_config(request: web.Request) -> web.Response:
    stored = await config_store.get_config(
        request.app[POOL], request.app[SECRET_BOX], request.match_info["id"]
    )
    return json_response(stored_view(stored))


async def create_config(request: web.Request) -> web.Response:
    config = SyncConfig.model_validate(await read_json_object(request))
    stored = await config_store.insert_config(request.app[POOL], request.app[SECRET_BOX], config)
    if stored is None:
        return error_response(409, "conflict", f"a sync config with id {config.id!r} already exists")
    response = json_response(stored_view(stored), status=201)
    response.headers["Location"] = f"/configs/{config.id}"
    return response


def _id_changed(body: dict[str, Any], config_id: str) -> web.Response | None:
    if body.setdefault("id", config_id) == config_id:
        return None
    return error_response(
        422,
        "invalid_body",
        f"the body's id {body['id']!r} differs from the URL's {config_id!r}; ids cannot be changed",
        [{"field": "id", "message": "must match the id in the URL"}],
    )


async def replace_config(request: web.Request) -> web.Response:
    config_id = request.match_info["id"]
    body = without_read_only(await read_json_object(request))
    if (refused := _id_changed(body, config_id)) is not None:
        return refused
    config = SyncConfig.model_validate(body)
    pool, box = request.app[POOL], request.app[SECRET_BOX]
    async with pool.acquire() as conn, conn.transaction():
        current = await config_store.get_config(conn, box, config_id, for_update=True)
        merged = config_store.keep_stored_secrets(config, current.config)
        stored = await config_store.update_config(conn, box, merged)
    return json_response(stored_view(stored))


async def patch_config(request: web.Request) -> web.Response:
    """Only the fields the patch names change: `{"enabled": false}` pauses a config."""
    config_id = request.match_info["id"]
    patch = without_read_only(await read_json_object(request))
    if (refused := _id_changed(patch, config_id)) is not None:
        return refused
    pool, box = request.app[POOL], request.app[SECRET_BOX]
    async with pool.acquire() as conn, conn.transaction():
        current = await config_store.get_config(conn, box, config_id, for_update=True)
        # Patched onto the public view, whose masked secrets ("***") keep their stored values.
        config = SyncConfig.model_validate(merge_patch(public_view(current.config), patch))
        merged = config_store.keep_stored_secrets(config, current.config)
        stored = await config_store.update_config(conn, box, merged)
    return json_response(stored_view(stored))


async def delete_config(request: web.Request) -> web.Response:
    purge = request.query.get("purge", "false").lower()
    if purge not in ("true", "false", "1", "0"):
        raise web.HTTPBadRequest(reason="purge is true or false")
    await config_store.delete_config(
        request.app[POOL], request.match_info["id"], purge=purge in ("true", "1")
    )
    return web.Response(status=204)


def parse_log_query(request: web.Request, **fixed: str) -> LogQuery:
    params: dict[str, Any] = dict(request.query)
    if set(params) & set(fixed):
        raise web.HTTPBadRequest(
            reason=f"query parameter(s) {', '.join(sorted(fixed))} come from the path here"
        )
    return LogQuery.model_validate({**params, **fixed})


async def _log_page(request: web.Request, query: LogQuery) -> web.Response:
    lines = await log_store.list_logs(
        request.app[POOL],
        config_id=query.config_id,
        min_level=query.level,
        since=query.since,
        before_id=query.before,
        run_id=query.run_id,
        limit=query.limit,
    )
    page = LogPage(
        logs=[LogLineOut.model_validate(line, from_attributes=True) for line in lines],
        next=lines[-1].id if len(lines) == query.limit else None,
    )
    return json_response(page.model_dump(mode="json"))


async def list_logs(request: web.Request) -> web.Response:
    return await _log_page(request, parse_log_query(request))


async def list_config_logs(request: web.Request) -> web.Response:
    config_id = request.match_info["id"]
    await config_store.get_config(request.app[POOL], request.app[SECRET_BOX], config_id)
    return await _log_page(request, parse_log_query(request, config_id=config_id))


async def health(request: web.Request) -> web.Response:
    """200 when PostgreSQL and Redis both answer; 503 naming the one that does not."""
    postgres, redis = await asyncio.gather(_check_postgres(request), _check_redis(request))
    checks = {"postgres": postgres, "redis": redis}
    healthy = all(check.ok for check in checks.values())
    body = HealthOut(status="ok" if healthy else "unavailable", checks=checks).model_dump(mode="json")
    if not healthy:
        down = ", ".join(name for name, check in checks.items() if not check.ok)
        body["error"] = {"code": "unavailable", "message": f"{down} unavailable", "details": []}
    return json_response(body, status=200 if healthy else 503)


async def _check_postgres(request: web.Request) -> CheckOut:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await ping(request.app[POOL])
    except (OSError, TimeoutError, DatabaseError) as exc:
        return CheckOut(ok=False, error=f"PostgreSQL: {type(exc).__name__}: {exc}")
    except Exception as exc:  # asyncpg raises many kinds; any of them means "not healthy"
        return CheckOut(ok=False, error=f"PostgreSQL: {type(exc).__name__}")
    return CheckOut(ok=True)


async def _check_redis(request: web.Request) -> CheckOut:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await request.app[REDIS].ping()
    except Exception as exc:  # redis-py raises ConnectionError, TimeoutError and others
        return CheckOut(ok=False, error=f"Redis: {type(exc).__name__}")
    return CheckOut(ok=True)
