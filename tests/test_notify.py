"""Webhook notifications to a real receiver on loopback: once per open problem, once when it is over,
signed, retried while the receiver is down, and said by one process however many run."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from arq import ArqRedis

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.notifications import deliveries
from erpsync.db.pool import create_pool
from erpsync.models import SyncConfig
from erpsync.notify import Notifier
from erpsync.scheduler import Scheduler
from erpsync.settings import DatabaseSettings, NotifySettings, Settings, Webhook

SECRET = "whsec-a-long-shared-secret"


@dataclass
class Receiver:
    """An HTTP endpoint that records what it is sent; `failing` answers 503 that many times first."""

    server: TestServer | None = None
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failing: int = 0

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/hook"))

    def events(self) -> list[tuple[str, str, str | None]]:
        bodies = [orjson.loads(body) for _, body in self.received]
        return [(body["event"], body["config_id"], body["reason"]) for body in bodies]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()

    async def hook(request: web.Request) -> web.Response:
        if found.failing:
            found.failing -= 1
            return web.Response(status=503)
        found.received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    found.server = TestServer(app, host="127.0.0.1")
    await found.server.start_server()
    yield found
    await found.server.close()


@pytest.fixture(autouse=True)
async def earlier_runs_told(db: asyncpg.Connection[Any]) -> None:
    """Runs other tests of this run finished are history here, as runs before the migration are."""
    await db.execute("UPDATE sync_runs SET notified = true WHERE finished_at IS NOT NULL")


def _settings(settings: Settings, *hooks: Webhook) -> Settings:
    notify = NotifySettings(webhooks=list(hooks), retry_base_delay=0.001, api_url="https://erpsync.acme.test")
    return settings.model_copy(update={"notify": notify})


async def _finish(
    db: asyncpg.Connection[Any], config_id: str, status: str, error: str | None = None, **counts: int
) -> int:
    return int(
        await db.fetchval(
            "INSERT INTO sync_runs (config_id, status, error, counts, started_at, finished_at) "
            "VALUES ($1, $2, $3, $4, now(), clock_timestamp()) RETURNING id",
            config_id,
            status,
            error,
            counts,
        )
    )


async def test_once_per_open_problem_and_once_when_it_is_over(
    settings: Settings, db: asyncpg.Connection[Any], receiver: Receiver, make_config: Any
) -> None:
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("acme")))
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=2))
    notifier = Notifier(_settings(settings, Webhook(url=receiver.url, secret=SECRET)), pool)
    try:
        await _finish(db, "acme", "succeeded")
        await notifier.tick()
        assert receiver.received == [], "a config that was well and is well says nothing"
        failed = await _finish(db, "acme", "failed", "cannot connect to the FTP server ftp.acme.test:21")
        await _finish(db, "acme", "failed", "cannot connect to the FTP server ftp.acme.test:21")
        await notifier.tick()
        await _finish(db, "acme", "partial", rows_rejected=3)
        await _finish(db, "acme", "canceled")
        await notifier.tick()
        await _finish(db, "acme", "succeeded")
        await _finish(db, "acme", "succeeded")
        await notifier.tick()
        await notifier.tick()
    finally:
        await notifier.close()
        await pool.close()
    assert receiver.events() == [
        ("failed", "acme", "cannot connect to the FTP server ftp.acme.test:21"),
        ("partial", "acme", "3 rows rejected"),
        ("recovered", "acme", None),
    ]
    headers, body = receiver.received[0]
    assert (
        headers["X-Erpsync-Signature"]
        == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    )
    assert headers["X-Erpsync-Event"] == "failed"
    first = orjson.loads(body)
    assert first["run_id"] == failed
    assert first["run_url"] == f"https://erpsync.acme.test/runs/{failed}"
    assert first["status"] == "failed"
    assert SECRET.encode() not in b"".join(body for _, body in receiver.received)


async def test_a_receiver_that_is_down_gets_it_later_and_only_the_events_it_asked_for(
    settings: Settings, db: asyncpg.Connection[Any], receiver: Receiver, make_config: Any
) -> None:
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("acme-down")))
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=2))
    only_failures = Webhook(url=receiver.url, events=["failed"])
    notifier = Notifier(_settings(settings, only_failures), pool)
    receiver.failing = 2
    try:
        await _finish(db, "acme-down", "needs_attention", "would delete 812 of 1,000 products (81%) > 20%")
        await _finish(db, "acme-down", "failed", "the feed gave no product (0 rows)")
        for _ in range(6):  # each retry is due 1 ms, then 2 ms, after the failure: ticks 10 ms apart
            await notifier.tick()
            await asyncio.sleep(0.01)
    finally:
        await notifier.close()
        await pool.close()
    assert receiver.events() == [("failed", "acme-down", "the feed gave no product (0 rows)")]
    (delivery,) = [item for item in await deliveries(db) if item["config_id"] == "acme-down"]
    assert (delivery["event"], delivery["attempts"], delivery["delivered_at"] is not None) == (
        "failed",
        3,
        True,
    )
    assert receiver.received[0][0]["X-Erpsync-Delivery"] == str(delivery["id"])
    assert "X-Erpsync-Signature" not in receiver.received[0][0], "no secret, no signature"


async def test_two_schedulers_say_it_once(
    settings: Settings,
    db: asyncpg.Connection[Any],
    receiver: Receiver,
    make_config: Any,
    clean_redis: ArqRedis,
) -> None:
    """Only the leading scheduler notifies: two processes, one message."""
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("acme-twice", enabled=False)))
    configured = _settings(settings, Webhook(url=receiver.url))
    pools = [
        await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3)) for _ in range(2)
    ]
    schedulers = [Scheduler(pool, clean_redis, notifier=Notifier(configured, pool)) for pool in pools]
    try:
        await _finish(db, "acme-twice", "failed", "boom")
        for _ in range(2):
            for scheduler in schedulers:
                await scheduler.reconcile()
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        for pool in pools:
            await pool.close()
    assert receiver.events() == [("failed", "acme-twice", "boom")]
