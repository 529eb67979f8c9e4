"""SIGTERM during a sync: `erpsync serve` exits 0 within its stop timeout and the next start finishes the run."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from support import erpsync_env, free_port, poll_until, wait_until_healthy

from erpsync.settings import Settings

TOKEN = "stop-api-token-3b9f"
COUNT = 40


async def test_sigterm_mid_publish_exits_cleanly_and_resumes(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path, clean_redis: Any
) -> None:
    """Stopped while a bulk operation runs, the daemon exits 0 in time; started again, it finishes the run
    without sending the operation twice."""
    simulator = await start_shopify(bulk_rate=8.0)  # 40 lines take 5 s: the stop lands mid-operation
    feed = tmp_path / "feed.csv"
    feed.write_text("sku,title,price\n" + "".join(f"S{n},Product {n},5.00\n" for n in range(COUNT)))
    port = free_port()
    env = erpsync_env(
        settings,
        tmp_path,
        shop_url=simulator.base_url,
        ERPSYNC_API__TOKEN=TOKEN,
        PORT=str(port),
        ERPSYNC_WORKER__STOP_TIMEOUT="1",
    )

    async def serve() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "erpsync",
            "serve",
            "--no-scheduler",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    daemon = await serve()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        await wait_until_healthy(api, port)
        config = {
            "id": "stop",
            "name": "Stop",
            "connection_type": "file",
            "credentials": {"filePath": str(feed)},
            "format": "csv",
            "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
        }
        async with api.post(f"http://127.0.0.1:{port}/configs", json=config) as response:
            assert response.status == 201
        async with api.post(f"http://127.0.0.1:{port}/sync/stop") as response:
            run_id = (await response.json())["run_id"]
        await poll_until(
            lambda: db.fetchval(
                "SELECT bulk_operations->0->>'id' IS NOT NULL FROM sync_runs WHERE id = $1", run_id
            )
        )
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        _, stderr = await daemon.communicate()
        assert daemon.returncode == 0, stderr.decode()[-2000:]
        assert time.monotonic() - stopping < 10
        assert await db.fetchval("SELECT status FROM sync_runs WHERE id = $1", run_id) == "running"

        again = await serve()
        try:

            async def finished() -> bool:
                return await db.fetchval("SELECT status FROM sync_runs WHERE id = $1", run_id) != "running"

            await poll_until(finished, seconds=60)
        finally:
            again.send_signal(signal.SIGTERM)
            await again.communicate()
    run = await db.fetchrow("SELECT status, counts FROM sync_runs WHERE id = $1", run_id)
    assert run is not None
    assert run["status"] == "succeeded"
    assert await db.fetchval("SELECT count(*) FROM product_states WHERE config_id = 'stop'") == COUNT
    assert (await simulator.stats())["bulk_operations"]["MUTATION"] == 1
