"""A real `erpsync sync` killed with SIGKILL at each point of a run; the next run converges exactly."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from support import SIM_TOKEN, erpsync_env, shop_products

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.models import SyncConfig
from erpsync.settings import Settings

COUNT = 30


def write_feed(path: Path, price: str) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "title", "price"])
        for n in range(COUNT):
            writer.writerow([f"SKU-{n}", f"Product {n}", price])


async def wait_for(conn: asyncpg.Connection[Any], query: str) -> None:
    """Poll PostgreSQL until `query` is true: the run reached the point where it is to be killed."""
    async with asyncio.timeout(30):
        while True:
            if await conn.fetchval(query):
                return
            await asyncio.sleep(0.01)


async def wait_for_operation(simulator: Any, operation_id: str) -> None:
    """Poll the shop until the bulk operation has finished."""
    async with asyncio.timeout(30):
        while True:
            data = await simulator_graphql(simulator, OPERATION_QUERY, {"id": operation_id})
            if data["bulkOperation"]["status"] == "COMPLETED":
                return
            await asyncio.sleep(0.005)


POINTS = {
    # the feed is half read (it comes through a pipe that stalls): nothing planned, nothing sent
    "fetching": "SELECT true FROM sync_runs WHERE status = 'running' AND stage = 'fetch'",
    # planned and publishing, but no bulk operation started yet (every Shopify call is slowed down)
    "after-planning": "SELECT true FROM sync_runs WHERE status = 'running' AND stage = 'publish' "
    "AND bulk_operations->0->>'id' IS NULL",
    # the operation id is stored and the operation is running in Shopify
    "operation-running": "SELECT true FROM sync_runs WHERE status = 'running' AND bulk_operations->0->>'id' IS NOT NULL",
}
OPERATION_QUERY = "query($id: ID!) { bulkOperation(id: $id) { status } }"


@pytest.mark.parametrize("point", [*POINTS, "operation-finished"])
async def test_killed_run_resumes_and_converges(
    point: str, settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """Killed with SIGKILL at `point`, the next `erpsync sync` finishes the job: every SKU is in the shop
    exactly once, with the feed's latest price, and no run is left running."""
    simulator = await start_shopify(bulk_rate=40.0)  # slow lines widen the window of a running operation
    feed = tmp_path / "feed.csv"
    if point == "fetching":
        os.mkfifo(feed)
    else:
        write_feed(feed, "10.00")
    config = SyncConfig.model_validate(
        {
            "id": "acme",
            "name": "ACME",
            "connection_type": "file",
            "credentials": {"filePath": str(feed)},
            "format": "csv",
            "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
        }
    )
    assert settings.security.secret_key is not None
    await insert_config(db, SecretBox(settings.security.secret_key), config)
    env = erpsync_env(settings, tmp_path, shop_url=simulator.base_url)
    if point == "after-planning":
        await simulator.faults(latency_ms=300)

    async def erpsync_sync() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "erpsync",
            "sync",
            "acme",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    first = await erpsync_sync()
    pipe = None
    if point == "fetching":
        pipe = await asyncio.to_thread(open, feed, "w")  # blocks until erpsync opens the feed
        pipe.write("sku,title,price\nSKU-0,Product 0,10.00\n")
        pipe.flush()
    if point == "operation-finished":
        await wait_for(db, POINTS["operation-running"])
        operation_id = await db.fetchval("SELECT bulk_operations->0->>'id' FROM sync_runs")
        await wait_for_operation(simulator, operation_id)
    else:
        await wait_for(db, POINTS[point])
    first.send_signal(signal.SIGKILL)
    await first.communicate()
    if pipe is not None:
        pipe.close()
        feed.unlink()
    await simulator.faults(clear=True)
    assert await db.fetchval("SELECT status FROM sync_runs ORDER BY id LIMIT 1") in {"running", "succeeded"}

    write_feed(feed, "12.00")  # and the feed moved on meanwhile
    second = await erpsync_sync()
    out, err = await second.communicate()
    assert second.returncode == 0, (out + err).decode()[-3000:]

    products = await shop_products(simulator)
    skus = sorted(variant["sku"] for product in products for variant in product["variants"]["nodes"])
    assert skus == sorted(f"SKU-{n}" for n in range(COUNT)), "a product was lost or duplicated"
    assert {variant["price"] for product in products for variant in product["variants"]["nodes"]} == {"12.00"}
    statuses = [row["status"] for row in await db.fetch("SELECT status FROM sync_runs ORDER BY id")]
    assert "running" not in statuses
    assert statuses[-1] == "succeeded"
    assert await db.fetchval("SELECT count(*) FROM product_states WHERE config_id = 'acme'") == COUNT
    # The journal: each product created once, ok (by the resumed run when the kill came while its
    # operation ran, else by the next run); a later run's updates say the price went 10.00 → 12.00.
    journal = await db.fetch("SELECT run_id, action, result, changes FROM run_changes ORDER BY id")
    creates = [row for row in journal if row["action"] == "create"]
    assert [row["result"] for row in creates] == ["ok"] * COUNT
    if point.startswith("operation-"):
        assert {row["run_id"] for row in creates} == {1}
    updates = [row["changes"] for row in journal if row["action"] == "update"]
    assert len(updates) in {0, COUNT}
    for changes in updates:
        [change] = [change for change in changes if change["field"].endswith(".price")]
        assert (change["before"], change["after"]) == ("10.00", "12.00")


async def simulator_graphql(simulator: Any, query: str, variables: dict[str, Any]) -> Any:
    async with simulator.session.post(
        f"{simulator.base_url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": SIM_TOKEN},
    ) as response:
        return (await response.json())["data"]
