"""Load benchmark: many configs on short schedules with 4 workers, and the API under wrk meanwhile.

    .venv/bin/python bench/load.py --configs 200 --seconds 120     # needs `wrk` (Debian package)

It starts the Shopify simulator and one `erpsync serve` (API + scheduler + worker, `max_jobs=4`), creates
`--configs` file-feed configs that sync every `--interval` seconds, lets them run, and meanwhile drives
`GET /sync/status` with wrk on loopback. It prints requests/s and latency percentiles from wrk, then, per
config, how many runs happened against how many were due, whether any config ran twice at once, and the
queue depth at the end. Figures only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from redis.asyncio import Redis

from erpsync.constants import ARQ_QUEUE_NAME
from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.migrate import apply_migrations
from erpsync.db.pool import connect
from erpsync.models import SyncConfig
from erpsync.settings import DatabaseSettings

ADMIN_DSN = os.environ.get("ERPSYNC_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ERPSYNC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TOKEN = "shpat_load"
API_TOKEN = "load-api-token-4f2e"
SECRET = "load-secret-key-0123456789"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def prepare(dsn: str, root: Path, configs: int, interval: float) -> None:
    conn = await connect(DatabaseSettings(url=dsn))
    await apply_migrations(conn)
    box = SecretBox(SecretStr(SECRET))
    for index in range(configs):
        feed = root / f"feed-{index}.csv"
        feed.write_text("sku,title,price\n" + "".join(f"C{index}-{n},Item {n},{n}.50\n" for n in range(5)))
        config = SyncConfig.model_validate(
            {
                "id": f"load-{index:03d}",
                "name": f"Load {index}",
                "connection_type": "file",
                "credentials": {"filePath": str(feed)},
                "format": "csv",
                "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
                "sync_frequency": interval / 3600,
            }
        )
        await insert_config(conn, box, config)
    await conn.close()


def wrk(url: str, seconds: int) -> str:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {API_TOKEN}"\n')
    try:
        result = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        script.unlink()
    return result.stdout + result.stderr


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between runs of a config")
    parser.add_argument("--seconds", type=int, default=120)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    name = f"erpsync_load_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rpartition("/")[0] + f"/{name}"
    root = Path(tempfile.mkdtemp(prefix="erpsync-load-"))
    sim_port, api_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await prepare(dsn, root, args.configs, args.interval)
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "erpsync",
                    "simulator",
                    "--port",
                    str(sim_port),
                    "--access-token",
                    TOKEN,
                    "--admin",
                    "--plan",
                    "plus",
                    "--bulk-rate",
                    "100000",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        await wait_http(f"http://127.0.0.1:{sim_port}/_simulator/stats")
        env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
        env.update(
            DATABASE_URL=dsn,
            REDIS_URL=REDIS_URL,
            PORT=str(api_port),
            ERPSYNC_API__TOKEN=API_TOKEN,
            SHOPIFY_SHOP="load.myshopify.com",
            SHOPIFY_ACCESS_TOKEN=TOKEN,
            ERPSYNC_SHOPIFY__BASE_URL=f"http://127.0.0.1:{sim_port}",
            ERPSYNC_SHOPIFY__POLL_INTERVAL="0.2",
            ERPSYNC_SECURITY__SECRET_KEY=SECRET,
            ERPSYNC_SYNC__WORK_DIR=str(root / "work"),
            ERPSYNC_SYNC__FILE_ROOT=str(root),
            ERPSYNC_WORKER__MAX_JOBS="4",
            ERPSYNC_LOG__LEVEL="warning",
            ERPSYNC_DATABASE__MAX_CONNECTIONS="20",
        )
        started = time.monotonic()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "erpsync", "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        await wait_http(f"http://127.0.0.1:{api_port}/health")
        report = await asyncio.to_thread(wrk, f"http://127.0.0.1:{api_port}/sync/status", args.seconds)
        elapsed = time.monotonic() - started
        redis = Redis.from_url(REDIS_URL)
        queue_depth = int(await redis.zcard(ARQ_QUEUE_NAME))
        await redis.aclose()
        conn = await asyncpg.connect(dsn)
        rows = await conn.fetch(
            "SELECT config_id, status, started_at, finished_at FROM sync_runs ORDER BY started_at"
        )
        await conn.close()
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=60)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.configs} configs every {args.interval:g} s, {elapsed:.0f} s of load, 4 workers")
    for line in report.splitlines():
        if re.search(r"Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors", line):
            print("  wrk:", line.strip())
    per_config: dict[str, list[tuple[object, object]]] = {}
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        if row["started_at"] is not None:
            per_config.setdefault(row["config_id"], []).append((row["started_at"], row["finished_at"]))
    overlaps = sum(
        1
        for runs in per_config.values()
        for (_, end), (start, _) in itertools.pairwise(runs)
        if end is None or start is None or end > start  # type: ignore[operator]
    )
    counts = [len(runs) for runs in per_config.values()]
    due = elapsed / args.interval
    print(
        f"  runs: {json.dumps(statuses)}; configs that ran: {len(per_config)}/{args.configs}; "
        f"runs per config min {min(counts, default=0)} max {max(counts, default=0)} (about {due:.1f} due); "
        f"overlapping runs of one config: {overlaps}; jobs left in the queue when the load stopped: {queue_depth}"
    )


if __name__ == "__main__":
    asyncio.run(main())
