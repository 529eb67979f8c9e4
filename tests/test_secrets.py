"""No secret anywhere: after runs that succeed and fail, grep every log line, API response, error and
`sync_logs` / `sync_runs` row for every secret the process knows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioftp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from support import API_TOKEN, SECRET_KEY, SIM_TOKEN
from test_logs import captured_log

from erpsync.api.app import init_app
from erpsync.db.pool import create_pool
from erpsync.logs import register_secret
from erpsync.settings import DatabaseSettings, Settings, ShopifySettings, SyncSettings
from erpsync.shopify.client import close_shared_sessions
from erpsync.sync import run_sync

FTP_PASSWORD = "ftp-Pa55-never-shown"
WRONG_PASSWORD = "wrong-Pa55-never-shown"


@dataclass
class Observed:
    """An API client on a run's settings, a pool for `run_sync`, and everything either let out."""

    settings: Settings
    client: TestClient[Any, Any]
    pool: asyncpg.Pool[Any]
    seen: list[str] = field(default_factory=list)


@asynccontextmanager
async def observing(
    settings: Settings, db: asyncpg.Connection[Any], simulator: Any, tmp_path: Path, **sync: Any
) -> AsyncIterator[Observed]:
    """Runs against the simulated shop; at the end `seen` holds also the process log and every stored
    log line, run error and config as text."""
    configured = settings.model_copy(
        update={
            "shopify": ShopifySettings(
                shop="acme.myshopify.com",
                base_url=simulator.base_url,
                access_token=SecretStr(SIM_TOKEN),
                poll_interval=0.02,
            ),
            "sync": SyncSettings(work_dir=tmp_path / "work", **sync),
        }
    )
    pool = await create_pool(DatabaseSettings(url=settings.database.url))
    try:
        with captured_log() as log:
            async with TestClient(
                TestServer(init_app(configured), host="127.0.0.1"),
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            ) as client:
                observed = Observed(configured, client, pool)
                yield observed
            await close_shared_sessions()
        observed.seen.append(log.getvalue())
        rows = await db.fetch("SELECT message, details::text AS details FROM sync_logs")
        observed.seen += [f"{row['message']} {row['details']}" for row in rows]
        observed.seen += [
            str(dict(row)) for row in await db.fetch("SELECT error, counts::text, plan::text FROM sync_runs")
        ]
        observed.seen += [
            str(dict(row)) for row in await db.fetch("SELECT config::text FROM product_sync_configs")
        ]
    finally:
        await close_shared_sessions()
        await pool.close()


def csv_config(config_id: str, connection_type: str, credentials: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": config_id,
        "name": config_id,
        "connection_type": connection_type,
        "credentials": credentials,
        "format": "csv",
        "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
    }


async def test_no_secret_in_logs_responses_errors_or_rows(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """Passwords, tokens and keys never leave the process, whatever path a run takes."""
    simulator = await start_shopify()
    (tmp_path / "ftp").mkdir()
    (tmp_path / "ftp" / "feed.csv").write_text("sku,title,price\nA,Alpha,1.00\nB,Beta,bad\n")
    ftp = aioftp.Server([aioftp.User("erp", FTP_PASSWORD, base_path=tmp_path / "ftp", home_path="/")])
    await ftp.start("127.0.0.1", 0)
    port = ftp.server.sockets[0].getsockname()[1]
    for secret in (SIM_TOKEN, API_TOKEN, SECRET_KEY):
        register_secret(secret)
    try:
        async with observing(settings, db, simulator, tmp_path) as observed:
            client, pool = observed.client, observed.pool
            for config_id, password in (("good", FTP_PASSWORD), ("badpass", WRONG_PASSWORD)):
                credentials = {"host": "127.0.0.1", "port": port, "username": "erp", "password": password,
                               "filePath": "/feed.csv", "headers": {}}  # fmt: skip
                response = await client.post("/configs", json=csv_config(config_id, "ftp", credentials))
                observed.seen.append(await response.text())
            configured = observed.settings
            good = await run_sync(configured, pool, "good")
            bad = await run_sync(configured, pool, "badpass")
            # The feed holds a bad row (so that row errors are searched for secrets too): partial.
            assert good.status == "partial"
            assert bad.status == "failed"
            observed.seen += [str(good), str(bad), bad.error or ""]
            for path in (
                "/configs",
                "/configs/good",
                "/configs/badpass",
                "/logs",
                "/sync/status",
                f"/runs/{bad.run_id}",
                "/configs/badpass/runs",
                "/openapi.json",
                "/metrics",
                "/configs/nope",
                "/health",
            ):
                observed.seen.append(await (await client.get(path)).text())
            response = await client.post("/configs", json={"id": "x", "password": WRONG_PASSWORD})
            observed.seen.append(await response.text())
    finally:
        await ftp.close()
    everything = "\n".join(observed.seen)
    assert (
        "login" in everything.lower() or "530" in everything
    )  # the failure was reported, just not its secret
    for secret in (FTP_PASSWORD, WRONG_PASSWORD, SIM_TOKEN, API_TOKEN, SECRET_KEY):
        assert secret not in everything, secret


FEED_TOKEN = "feed-T0ken-never-shown"
FEED_PASSWORD = "feed-Pa55-never-shown"


async def test_feed_url_credentials_are_used_but_never_shown(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """A feed URL with `?token=` and `user:password@` is fetched with its real credentials (the run
    succeeds), and a run the feed server refuses, quoting the token in its answer, fails with the token
    masked: not in the API's views, the process log, the run's error, `sync_logs` or the stored JSON."""

    async def export(request: web.Request) -> web.Response:
        if request.query.get("token") != FEED_TOKEN:
            return web.Response(status=403, reason=f"token {request.query.get('token')} refused")
        if request.query.get("fail"):  # a server that quotes the whole request in its error
            return web.Response(status=403, reason=f"token {FEED_TOKEN} expired for {request.path_qs}")
        return web.Response(text="sku,title,price\nA,Alpha,1.00\n", content_type="text/csv")

    feed_app = web.Application()
    feed_app.router.add_get("/export.csv", export)
    feed = TestServer(feed_app, host="127.0.0.1")
    await feed.start_server()
    simulator = await start_shopify()
    url = f"http://erp:{FEED_PASSWORD}@127.0.0.1:{feed.port}/export.csv?token={FEED_TOKEN}&format=csv"
    try:
        async with observing(settings, db, simulator, tmp_path, allow_private_sources=True) as observed:
            client, pool = observed.client, observed.pool
            for config_id, config_url in (("good", url), ("refused", url + "&fail=1")):
                response = await client.post(
                    "/configs", json=csv_config(config_id, "http", {"url": config_url})
                )
                assert response.status == 201
                observed.seen.append(await response.text())
            configured = observed.settings
            good = await run_sync(configured, pool, "good")
            refused = await run_sync(configured, pool, "refused")
            assert good.status == "succeeded", good.error
            assert refused.status == "failed"
            assert refused.error is not None
            assert "403" in refused.error
            observed.seen += [str(good), str(refused)]
            for path in ("/configs", "/configs/good", "/configs/refused", "/logs", f"/runs/{refused.run_id}"):
                observed.seen.append(await (await client.get(path)).text())
    finally:
        await feed.close()
    everything = "\n".join(observed.seen)
    assert "token=***" in everything  # the URL is shown, with its credential masked
    assert FEED_TOKEN not in everything
    assert FEED_PASSWORD not in everything
