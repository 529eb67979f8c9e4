"""End to end: two real `erpsync serve` processes, a real FTP server, the Shopify simulator."""

from __future__ import annotations

import asyncio
import csv
import itertools
import signal
import sys
from pathlib import Path
from typing import Any

import aioftp
import aiohttp
import asyncpg
from support import SIM_TOKEN, erpsync_env, free_port, wait_until_healthy

from erpsync.settings import Settings

TOKEN = "e2e-api-token-7c1d"
PRODUCTS_QUERY = "{ products(first: 50) { nodes { handle variants(first: 5) { nodes { sku price } } } } }"


def write_feed(path: Path, price: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["parent", "sku", "title", "size", "price", "stock"])
        for n in range(8):
            for size in ("S", "M"):
                writer.writerow([f"P{n}", f"P{n}-{size}", f"Product {n}", size, price, n])


async def prices_in_shop(simulator: Any) -> dict[str, str]:
    async with simulator.session.post(
        f"{simulator.base_url}/admin/api/2026-10/graphql.json",
        json={"query": PRODUCTS_QUERY},
        headers={"X-Shopify-Access-Token": SIM_TOKEN},
    ) as response:
        nodes = (await response.json())["data"]["products"]["nodes"]
    return {variant["sku"]: variant["price"] for node in nodes for variant in node["variants"]["nodes"]}


async def wait_for_run(api: aiohttp.ClientSession, base: str, *, after: int = 0) -> dict[str, Any]:
    """The first run with an id above `after` to finish, polled through the API."""
    async with asyncio.timeout(60):
        while True:
            async with api.get(f"{base}/configs/e2e/runs") as response:
                runs = await response.json()
            finished = [run for run in runs if run["id"] > after and run["finished_at"]]
            if finished:
                return dict(min(finished, key=lambda run: run["id"]))
            await asyncio.sleep(0.2)


async def test_serve_syncs_on_demand_and_on_schedule(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path, clean_redis: Any
) -> None:
    """A config created by API syncs when triggered, then again on its schedule after the feed changed;
    two daemons share the queue and never run the config twice at once; SIGHUP reloads settings without a
    restart; SIGTERM stops both cleanly."""
    simulator = await start_shopify()
    ftp_root = tmp_path / "ftp"
    (ftp_root / "export").mkdir(parents=True)
    feed = ftp_root / "export" / "products.csv"
    write_feed(feed, "10.00")
    ftp = aioftp.Server([aioftp.User("erp", "ftp-secret-e2e", base_path=ftp_root, home_path="/")])
    await ftp.start("127.0.0.1", 0)
    ftp_port = ftp.server.sockets[0].getsockname()[1]
    env = erpsync_env(settings, tmp_path, shop_url=simulator.base_url, ERPSYNC_API__TOKEN=TOKEN)
    ports = [free_port(), free_port()]
    daemons = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "erpsync",
            "serve",
            env={**env, "PORT": str(port)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for port in ports
    ]
    base = f"http://127.0.0.1:{ports[0]}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            for port in ports:
                await wait_until_healthy(api, port)
            config = {
                "id": "e2e",
                "name": "E2E",
                "connection_type": "ftp",
                "credentials": {
                    "host": "127.0.0.1",
                    "port": ftp_port,
                    "username": "erp",
                    "password": "ftp-secret-e2e",
                    "filePath": "/export/products.csv",
                },
                "format": "csv",
                "product_key": "parent",
                "options": ["Size"],
                "mapping": {
                    "title": "title",
                    "variant.sku": "sku",
                    "variant.price": "price",
                    "variant.option1": "size",
                    "variant.inventory_quantity": "stock",
                },
                "sync_frequency": "0.003",  # about 11 seconds
            }
            async with api.post(f"{base}/configs", json=config) as response:
                assert response.status == 201
            async with api.post(f"{base}/sync/e2e") as response:
                assert response.status in {202, 409}
            first = await wait_for_run(api, base)
            assert first["status"] == "succeeded", first
            assert first["counts"]["created"] == 8
            assert set((await prices_in_shop(simulator)).values()) == {"10.00"}

            daemons[1].send_signal(signal.SIGHUP)  # reload settings: the daemon keeps serving
            write_feed(feed, "12.50")
            second = await wait_for_run(api, base, after=first["id"])
            assert second["status"] == "succeeded", second
            assert second["trigger"] in {"schedule", "queue"}
            assert second["counts"]["updated"] == 8
            prices = await prices_in_shop(simulator)
            assert len(prices) == 16
            assert set(prices.values()) == {"12.50"}
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        outputs = [await daemon.communicate() for daemon in daemons]
        await ftp.close()
    assert [daemon.returncode for daemon in daemons] == [0, 0], [err[-2000:] for _, err in outputs]
    runs = await db.fetch(
        "SELECT started_at, finished_at, worker FROM sync_runs WHERE started_at IS NOT NULL "
        "ORDER BY started_at"
    )
    for earlier, later in itertools.pairwise(runs):
        assert earlier["finished_at"] <= later["started_at"], "two runs of one config overlapped"
    assert b"settings reloaded" in outputs[1][1]
    logs = b"".join(err for _, err in outputs)
    assert b"ftp-secret-e2e" not in logs
    assert TOKEN.encode() not in logs
