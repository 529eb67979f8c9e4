"""Typed application keys: how handlers reach settings, the pool, Redis and the secret box."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web
from arq import ArqRedis

from erpsync.api.snapshot import Snapshot
from erpsync.crypto import SecretBox
from erpsync.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL: web.AppKey[asyncpg.Pool[Any]] = web.AppKey("pool")
REDIS: web.AppKey[ArqRedis] = web.AppKey("redis")
SECRET_BOX = web.AppKey("secret_box", SecretBox)
STATUS_SNAPSHOT = web.AppKey("status_snapshot", Snapshot)
