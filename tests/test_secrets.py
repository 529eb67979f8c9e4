"""No secret anywhere: after runs that succeed and fail, grep every log line, API response, error and
`sync_logs` / `sync_runs` row for every secret the process knows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import aioftp
import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from support import API_TOKEN, SECRET_KEY, SIM_TOKEN

from erpsync.api.app import init_app
from erpsync.db.pool import create_pool
from erpsync.logs import configure_logging, register_secret
from erpsync.settings import DatabaseSettings, Settings, ShopifySettings, SyncSettings
from erpsync.shopify.client import close_shared_sessions
from erpsync.sync import run_sync

FTP_PASSWORD = "ftp-Pa55-never-shown"
WRONG_PASSWORD = "wrong-Pa55-never-shown"


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
    configured = settings.model_copy(
        update={
            "shopify": ShopifySettings(
                shop="acme.myshopify.com",
                base_url=simulator.base_url,
                access_token=SecretStr(SIM_TOKEN),
                poll_interval=0.02,
            ),
            "sync": SyncSettings(work_dir=tmp_path / "work"),
        }
    )
    for secret in (SIM_TOKEN, API_TOKEN, SECRET_KEY):
        register_secret(secret)
    log = io.StringIO()
    configure_logging(log_format="json", level="debug", stream=log)
    seen: list[str] = []
    pool = await create_pool(DatabaseSettings(url=settings.database.url))
    try:
        async with TestClient(
            TestServer(init_app(configured), host="127.0.0.1"),
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        ) as client:
            for config_id, password in (("good", FTP_PASSWORD), ("badpass", WRONG_PASSWORD)):
                body = {
                    "id": config_id,
                    "name": config_id,
                    "connection_type": "ftp",
                    "credentials": {
                        "host": "127.0.0.1",
                        "port": port,
                        "username": "erp",
                        "password": password,
                        "filePath": "/feed.csv",
                        "headers": {},
                    },
                    "format": "csv",
                    "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
                }
                response = await client.post("/configs", json=body)
                seen.append(await response.text())
            good = await run_sync(configured, pool, "good")
            bad = await run_sync(configured, pool, "badpass")
            assert good.status == "succeeded"
            assert bad.status == "failed"
            seen += [str(good), str(bad), bad.error or ""]
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
                seen.append(await (await client.get(path)).text())
            response = await client.post("/configs", json={"id": "x", "password": WRONG_PASSWORD})
            seen.append(await response.text())
        rows = await db.fetch("SELECT message, details::text AS details FROM sync_logs")
        seen += [f"{row['message']} {row['details']}" for row in rows]
        seen += [
            str(dict(row)) for row in await db.fetch("SELECT error, counts::text, plan::text FROM sync_runs")
        ]
        seen += [str(dict(row)) for row in await db.fetch("SELECT config::text FROM product_sync_configs")]
    finally:
        await close_shared_sessions()
        await pool.close()
        await ftp.close()
        configure_logging(log_format="console", level="info")
    seen.append(log.getvalue())
    everything = "\n".join(seen)
    assert (
        "login" in everything.lower() or "530" in everything
    )  # the failure was reported, just not its secret
    for secret in (FTP_PASSWORD, WRONG_PASSWORD, SIM_TOKEN, API_TOKEN, SECRET_KEY):
        assert secret not in everything, secret
