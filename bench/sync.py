"""Sync benchmark: a large catalogue through real `erpsync sync` processes against the simulator.

Scenarios: the initial sync; a first re-sync of the same bytes one drift overlap later (its drift check
lists what the initial sync wrote in its last minute); no-op re-syncs — the feed written again with the same bytes (known by its
hash) and the feed untouched (known by its stat) — each ending `unchanged` without parsing; a re-sync with
1% changed, 0.5% new and 0.5% removed products; then 1% of the products with a new price (sent as variant
updates, and once more with `[sync] lightest_writes = false`, as productSet, for comparison) and 1% with
new stock. For each it prints wall time per stage, mutations sent by kind, bulk operations, Shopify cost,
bytes uploaded, variants and media the shop wrote, feed bytes transferred and the peak RSS of the erpsync
process, with bulk_concurrency 5 and 1 side by side; then what `erpsync sync` spends importing before it
starts work.

    .venv/bin/python bench/sync.py                 # 100,000 products x 5 variants
    .venv/bin/python bench/sync.py --products 2000 # a quick look
    .venv/bin/python bench/sync.py --noop-runs 5   # the no-op ratio over five runs
    .venv/bin/python bench/sync.py --noop-runs 0 --concurrency 5 --scenarios changed  # the adopt figures

Needs PostgreSQL (ERPSYNC_BENCH_ADMIN_DSN, default postgresql://postgres@127.0.0.1:5432/postgres).
Targets: an unchanged re-sync sends 0 mutations in at most 0.2x the time of fetch+parse+map alone; the 1%
re-sync sends exactly the changed products; a price-only change uploads at most a fifth of the bytes the
same change takes as productSet, and creates no media; in the 1% re-sync the adopt stage takes at most
10% of the run, its SKU searches growing with the new SKUs, not the shop; peak RSS under 250 MB;
`erpsync sync` imports in at most 0.4 s.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from bench_feed import write_feed
from bench_report import report
from pydantic import SecretStr

import erpsync
from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.migrate import apply_migrations
from erpsync.db.pool import connect
from erpsync.feeds import read_records
from erpsync.mapping import FeedMapper
from erpsync.models import SyncConfig
from erpsync.settings import DatabaseSettings, SyncSettings
from erpsync.sources import open_feed

sys.path.insert(0, str(Path(__file__).parent))
from imports import env_for_imports, import_seconds

ADMIN_DSN = os.environ.get("ERPSYNC_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "shpat_bench"
SECRET = "bench-secret-key-0123456789"


def config_for(feed: Path) -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "id": "bench",
            "name": "Benchmark",
            "connection_type": "file",
            "credentials": {"filePath": str(feed)},
            "format": "csv",
            "product_key": "parent",
            "options": ["Size"],
            "mapping": {
                "title": "title",
                "vendor": "vendor",
                "product_type": "category",
                "tags": "tags",
                "description": "description",
                "variant.sku": "sku",
                "variant.price": "price",
                "variant.compare_at_price": "rrp",
                "variant.option1": "size",
                "variant.inventory_quantity": "stock",
                "variant.barcode": "ean",
                "variant.weight": "weight",
                "images": "image",
            },
            "metafield_mappings": [
                {
                    "sourceKey": "color",
                    "metafieldNamespace": "custom",
                    "metafieldKey": "color",
                    "metafieldType": "single_line_text_field",
                }
            ],
            "max_delete_fraction": 0.5,
            "default_weight_unit": "kg",
        }
    )


async def read_only_seconds(config: SyncConfig) -> float:
    """Fetch + parse + map + hash alone: the floor a no-op re-sync is measured against."""
    started = time.perf_counter()
    async with open_feed(config) as stream:
        mapper = FeedMapper(config, feed=stream.name)
        async for batch in read_records(
            stream, name=stream.name, format=config.format, options=config.format_options
        ):
            mapper.map_batch(batch)
        mapper.finish()
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def simulator_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/_simulator/stats", timeout=30) as response:  # noqa: S310 - loopback
        return dict(json.load(response))


def window_seconds(base: str) -> float:
    """How long the simulator takes to answer the drift check's one request (the count of products updated
    in the last minute and the deletion events), timed from here: the part of an unchanged run's time that
    is the shop's, which a real shop answers from an index."""
    from erpsync.shopify.drift_reads import WINDOW, search_time, updated_search

    since = datetime.now(UTC) - timedelta(seconds=OVERLAP)
    events = f"subject_type:PRODUCT AND action:destroy AND created_at:>={search_time(since)}"
    body = json.dumps(
        {
            "query": WINDOW.text,
            "variables": {"products": updated_search(since), "events": events, "after": None},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/admin/api/2026-10/graphql.json",
        data=body,
        headers={"Content-Type": "application/json", "X-Shopify-Access-Token": TOKEN},
    )
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            response.read()
        timings.append(time.perf_counter() - started)
    return sorted(timings)[1]


def run_sync(env: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """One `erpsync sync` process: its JSON result, wall seconds and peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "erpsync", "sync", "bench", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    output = process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    try:
        result = json.loads(output)
    except ValueError:
        raise SystemExit(f"erpsync sync did not answer JSON: {output[:2000]!r} {errors[-3000:]!r}") from None
    return result, wall, usage.ru_maxrss / 1024


def stop(simulator: subprocess.Popen[bytes]) -> None:
    simulator.terminate()
    try:
        simulator.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a simulator holding 100,000 products can be slow to go
        simulator.kill()
        simulator.wait()


# The re-syncs after the initial one, in run order (each builds on the feed of the one before).
CHURNS = ("changed", "price", "price-set", "stock")
# The first re-sync, one drift overlap after the initial sync ended, as the next scheduled run would come:
# its drift check lists the products the initial sync wrote in its last `drift_overlap_seconds` (here all
# written at the simulator's pace, far faster than Shopify's); the no-op runs after it look at a window
# with no write in it, as runs do once a catalogue is in step.
AFTER_INITIAL = "first re-sync"
OVERLAP = SyncSettings().drift_overlap_seconds


async def wait_before(label: str) -> None:
    """The first re-sync comes one drift overlap after the initial sync, as a scheduled run would."""
    if label == AFTER_INITIAL:
        print(f"waiting {OVERLAP + 2:.0f} s, the drift overlap, before the first re-sync", flush=True)
        await asyncio.sleep(OVERLAP + 2)


def scenario_list(args: argparse.Namespace) -> list[tuple[str, dict[str, Any] | None, dict[str, str]]]:
    """(label, how the feed changes — None: left untouched —, environment switches) in run order."""
    churn = {"changed": 0.01, "new": 0.005, "removed": 0.005}
    scenarios: list[tuple[str, dict[str, Any] | None, dict[str, str]]] = [
        ("initial", {}, {}),
        *([(AFTER_INITIAL, {}, {})] if args.noop_runs else []),
        *[("no-op", {}, {}), ("untouched", None, {})] * args.noop_runs,
    ]
    if not args.no_change:
        churns: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
            "changed": ("1% changed", churn, {}),
            "price": ("1% price", {**churn, "price_delta": 2}, {}),
            "price-set": (
                "1% price set",
                {**churn, "price_delta": 3},
                {"ERPSYNC_SYNC__LIGHTEST_WRITES": "false"},
            ),
            "stock": ("1% stock", {**churn, "price_delta": 3, "stock_changed": 0.01}, {}),
        }
        scenarios += [churns[name] for name in CHURNS if name in args.scenarios]
    return scenarios


async def run_own_seconds(dsn: str, run_id: int) -> float:
    """The run itself, from its row's creation to its end: no process start-up."""
    conn = await connect(DatabaseSettings(url=dsn))
    try:
        query = "SELECT extract(epoch FROM finished_at - queued_at) FROM sync_runs WHERE id = $1"
        return float(await conn.fetchval(query, run_id))
    finally:
        await conn.close()


def shop_deltas(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What one run made the simulator do: mutations by name, uploads, variants and media written, SKU
    searches and bulk queries."""

    def grown(*path: str) -> int:
        old: Any = before
        new: Any = after
        for key in path:
            old, new = old.get(key, 0), new.get(key, 0)
        return int(new) - int(old)

    return {
        "mutations": {key: grown("mutations", key) for key in after["mutations"] if grown("mutations", key)},
        "uploaded": grown("uploads", "bytes"),
        "uploads": grown("uploads", "count"),
        "variants_written": grown("variants_written"),
        "media_created": grown("media", "created"),
        "searches": grown("searches", "productVariants"),
        "bulk_queries": grown("bulk_operations", "QUERY"),
    }


async def scenario_set(args: argparse.Namespace, concurrency: int, work: Path) -> list[dict[str, Any]]:
    name = f"erpsync_bench_{os.getpid()}_{concurrency}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = ADMIN_DSN.rpartition("/")[0] + f"/{name}"
    port = free_port()
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "erpsync",
            "simulator",
            "--port",
            str(port),
            "--access-token",
            TOKEN,
            "--admin",
            "--bulk-rate",
            "1000000",
            "--plan",
            "plus",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        for _ in range(100):
            try:
                simulator_stats(base)
                break
            except OSError:
                time.sleep(0.1)
        conn = await connect(DatabaseSettings(url=dsn))
        await apply_migrations(conn)
        feed = work / "feed.csv"
        config = config_for(feed)
        await insert_config(conn, SecretBox(SecretStr(SECRET)), config)
        await conn.close()
        env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
        env.update(
            DATABASE_URL=dsn,
            SHOPIFY_SHOP="bench.myshopify.com",
            SHOPIFY_ACCESS_TOKEN=TOKEN,
            ERPSYNC_SHOPIFY__BASE_URL=base,
            ERPSYNC_SECURITY__SECRET_KEY=SECRET,
            ERPSYNC_SYNC__WORK_DIR=str(work / "runs"),
            ERPSYNC_SYNC__FILE_ROOT=str(work),
            ERPSYNC_SYNC__BULK_CONCURRENCY=str(concurrency),
            ERPSYNC_SHOPIFY__POLL_INTERVAL="0.2",
            ERPSYNC_SHOPIFY__TIMEOUT="300",  # the simulator answers slowly while it runs 100,000 lines
            ERPSYNC_LOG__LEVEL="warning",
        )
        scenarios = scenario_list(args)
        expected: dict[str, int] = {}
        for label, change, switches in scenarios:
            await wait_before(label)
            if change is not None:  # the same bytes written again (a new mtime) or a changed feed
                expected = write_feed(feed, args.products, args.variants, **change)
                written = time.time() - 60  # an export written a while before the run, as a nightly one is
                os.utime(feed, (written, written))
            stat = feed.stat()
            floor = await read_only_seconds(config)
            os.utime(feed, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # reading it changed nothing
            before = simulator_stats(base)
            result, wall, rss = run_sync({**env, **switches})
            after = simulator_stats(base)
            run_seconds = await run_own_seconds(dsn, int(result["run_id"]))
            shop_seconds = window_seconds(base) if result["status"] == "unchanged" else None
            print(f"{label}: {result['status']} in {wall:.2f} s (read floor {floor:.2f} s)", flush=True)
            rows.append(
                {
                    "scenario": label,
                    "concurrency": concurrency,
                    "status": result["status"],
                    "wall": wall,
                    "run_seconds": run_seconds,
                    "shop_seconds": shop_seconds,
                    "read_floor": floor,
                    "rss_mb": rss,
                    "expected": expected,
                    "counts": result["counts"],
                    **shop_deltas(before, after),
                }
            )
        conn = await connect(DatabaseSettings(url=dsn))
        state = await conn.fetchrow(STATE_SIZE)
        await conn.close()
        assert state is not None
        rows[-1]["state"] = dict(state)
    finally:
        stop(simulator)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return rows


# What the last-written state costs: the productSet input kept per product, as PostgreSQL stores it.
STATE_SIZE = """
SELECT count(*) AS products, avg(pg_column_size(written))::int AS stored_bytes,
       avg(octet_length(written::text))::int AS text_bytes,
       pg_total_relation_size('product_states') AS table_bytes
FROM product_states
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[5, 1])
    parser.add_argument("--imports-only", action="store_true", help="Only the import-time figure.")
    parser.add_argument("--no-change", action="store_true", help="Leave out the 1% changed re-sync.")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=CHURNS,
        default=list(CHURNS),
        help="The re-syncs to run after the initial sync and the no-op runs (default: all).",
    )
    parser.add_argument(
        "--noop-runs",
        type=int,
        default=3,
        help="No-op re-syncs per concurrency (the ratio swings with the machine).",
    )
    args = parser.parse_args()
    # An installed package ships its modules compiled; an editable install where PYTHONDONTWRITEBYTECODE is
    # set would compile them again in every `erpsync sync` process and count that as the run's time.
    compileall.compile_dir(Path(erpsync.__file__).parent, quiet=1)
    if args.imports_only:
        import_seconds(env_for_imports())
        return
    work = Path(tempfile.mkdtemp(prefix="erpsync-bench-"))
    try:
        rows: list[dict[str, Any]] = []
        for concurrency in args.concurrency:
            rows += asyncio.run(scenario_set(args, concurrency, work))
        print(
            f"{args.products:,} products x {args.variants} variants; peak RSS of this driver "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
        report(rows)
        import_seconds(env_for_imports())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
