"""`init_app()`: the aiohttp application, with its pools opened and closed by `cleanup_ctx`."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp import web
from arq import ArqRedis

from erpsync.api.keys import POOL, REDIS, SECRET_BOX, SETTINGS, STATUS_SNAPSHOT
from erpsync.api.middleware import (
    auth_middleware,
    errors_middleware,
    fresh_status_middleware,
    path_params_middleware,
)
from erpsync.api.routes import setup_routes
from erpsync.api.snapshot import Snapshot
from erpsync.crypto import SecretBox
from erpsync.db.pool import create_pool
from erpsync.errors import SettingsError
from erpsync.settings import Settings
from erpsync.shopify.client import close_shared_sessions


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond loopback without a token: the API can read feeds and write a shop."""
    if settings.api.token is None and not is_loopback(settings.api.host):
        raise SettingsError(
            f"api.host is {settings.api.host!r}, not loopback, and api.token is not set: "
            "set [api] token (or ERPSYNC_API__TOKEN) before exposing the API"
        )


def init_app(
    settings: Settings, *, pool: asyncpg.Pool[Any] | None = None, redis: ArqRedis | None = None
) -> web.Application:
    """Build the app; a pool or Redis client passed in is used as is and left open on shutdown."""
    check_exposure(settings)
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, path_params_middleware, fresh_status_middleware],
        client_max_size=settings.api.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[SECRET_BOX] = SecretBox(settings.security.secret_key, settings.security.previous_keys)
    app[STATUS_SNAPSHOT] = Snapshot(settings.api.status_cache_seconds)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own_pool = pool is None
        own_redis = redis is None
        app[POOL] = pool if pool is not None else await create_pool(settings.database)
        app[REDIS] = (
            redis
            if redis is not None
            else ArqRedis.from_url(settings.redis.url, socket_timeout=3, socket_connect_timeout=3)
        )
        yield
        await close_shared_sessions()
        if own_redis:
            await app[REDIS].aclose()
        if own_pool:
            await app[POOL].close()

    app.cleanup_ctx.append(resources)
    setup_routes(app)
    return app
