"""Sync benchmark: a large catalogue through real `erpsync sync` processes against the simulator.

Scenarios: the initial sync; no-op re-syncs — the feed written again with the same bytes (known by its
hash) and the feed untouched (known by its stat) — each ending `unchanged` without parsing; a re-sync with
1% changed, 0.5% new and 0.5% removed products. For each it prints wall time per stage, mutations sent,
bulk operations, Shopify cost, feed bytes transferred and the peak RSS of the erpsync process, with
bulk_concurrency 5 and 1 side by side; then what `erpsync sync` spends importing before it starts work.

    .venv/bin/python bench/sync.py                 # 100,000 products x 5 variants
    .venv/bin/python bench/sync.py --products 2000 # a quick look
    .venv/bin/python bench/sync.py --noop-runs 5   # the no-op ratio over five runs

Needs PostgreSQL (ERPSYNC_BENCH_ADMIN_DSN, default postgresql://postgres@127.0.0.1:5432/postgres).
Targets: an unchanged re-sync sends 0 mutations in at most 0.2x the time of fetch+parse+map alone; the 1%
re-sync sends exactly the changed products; peak RSS under 250 MB; `erpsync sync` imports in at most 0.4 s.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import csv
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

import erpsync
from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.migrate import apply_migrations
from erpsync.db.pool import connect
from erpsync.feeds import read_records
from erpsync.mapping import FeedMapper
from erpsync.models import SyncConfig
from erpsync.settings import DatabaseSettings
from erpsync.sources import open_feed

sys.path.insert(0, str(Path(__file__).parent))
from imports import env_for_imports, import_seconds

ADMIN_DSN = os.environ.get("ERPSYNC_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "shpat_bench"
SECRET = "bench-secret-key-0123456789"
SIZES = ("XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL")


def write_feed(
    path: Path, products: int, variants: int, *, changed: float = 0.0, new: float = 0.0, removed: float = 0.0
) -> dict[str, int]:
    """A deterministic CSV; the fractions pick products by index so every scenario is reproducible."""
    every_changed = int(1 / changed) if changed else 0
    every_removed = int(1 / removed) if removed else 0
    added = int(products * new)
    counts = {"changed": 0, "removed": 0, "new": added}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "parent",
                "sku",
                "title",
                "vendor",
                "category",
                "price",
                "rrp",
                "size",
                "stock",
                "ean",
                "weight",
                "tags",
                "description",
                "color",
                "material",
            ]
        )
        for index in range(products + added):
            if every_removed and index < products and index % every_removed == every_removed - 1:
                counts["removed"] += 1
                continue
            price = 19.9 + (index % 50)
            if every_changed and index < products and index % every_changed == 0:
                price += 1
                counts["changed"] += 1
            for variant in range(variants):
                writer.writerow(
                    [
                        f"P{index:07d}",
                        f"P{index:07d}-{variant}",
                        f"Product {index}",
                        f"Vendor {index % 40}",
                        f"Category {index % 12}",
                        f"{price:.2f}",
                        f"{price * 1.2:.2f}",
                        SIZES[variant % len(SIZES)],
                        (index + variant) % 30,
                        f"400{index:07d}{variant}",
                        "0.35",
                        "summer,cotton",
                        f"A fine product number {index}",
                        "navy",
                        "cotton",
                    ]
                )
    return counts


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
        scenarios: list[tuple[str, dict[str, float] | None]] = [
            ("initial", {}),
            *[("no-op", {}), ("untouched", None)] * args.noop_runs,
            *([] if args.no_change else [("1% changed", {"changed": 0.01, "new": 0.005, "removed": 0.005})]),
        ]
        expected: dict[str, int] = {}
        for label, change in scenarios:
            if change is not None:  # the same bytes written again (a new mtime) or a changed feed
                expected = write_feed(feed, args.products, args.variants, **change)
                written = time.time() - 60  # an export written a while before the run, as a nightly one is
                os.utime(feed, (written, written))
            stat = feed.stat()
            floor = await read_only_seconds(config)
            os.utime(feed, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # reading it changed nothing
            before = simulator_stats(base)
            result, wall, rss = run_sync(env)
            after = simulator_stats(base)
            conn = await connect(DatabaseSettings(url=dsn))
            run_seconds = float(  # the run itself, from its row's creation to its end: no process start-up
                await conn.fetchval(
                    "SELECT extract(epoch FROM finished_at - queued_at) FROM sync_runs WHERE id = $1",
                    result["run_id"],
                )
            )
            await conn.close()
            mutations = {
                key: after["mutations"].get(key, 0) - before["mutations"].get(key, 0)
                for key in ("productSet", "productDelete")
            }
            print(f"{label}: {result['status']} in {wall:.2f} s (read floor {floor:.2f} s)", flush=True)
            rows.append(
                {
                    "scenario": label,
                    "concurrency": concurrency,
                    "status": result["status"],
                    "wall": wall,
                    "run_seconds": run_seconds,
                    "read_floor": floor,
                    "rss_mb": rss,
                    "mutations": mutations,
                    "expected": expected,
                    "counts": result["counts"],
                }
            )
    finally:
        stop(simulator)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'scenario':<12} {'ops':>3} {'status':<10} {'wall s':>8} {'read s':>7} {'ratio':>6} {'set':>7} "
        f"{'delete':>6} {'bulk':>4} {'cost':>8} {'RSS MB':>7}  stages (s)"
    )
    for row in rows:
        counts = row["counts"]
        stages = " ".join(f"{k}={v:.1f}" for k, v in (counts.get("seconds") or {}).items())
        print(
            f"{row['scenario']:<12} {row['concurrency']:>3} {row['status']:<10} {row['wall']:>8.2f} "
            f"{row['read_floor']:>7.2f} {row['wall'] / row['read_floor']:>6.2f} "
            f"{row['mutations']['productSet']:>7} {row['mutations']['productDelete']:>6} "
            f"{counts.get('bulk_operations', 0):>4} {counts.get('shopify_cost', 0):>8.0f} {row['rss_mb']:>7.0f}"
            f"  {stages}"
        )
        if counts.get("unchanged_reason"):
            print(
                f"{'':<12} {counts['unchanged_reason']}; feed bytes transferred "
                f"{counts.get('feed_bytes_transferred', 0):,}; the run itself {row['run_seconds']:.2f} s = "
                f"{row['run_seconds'] / row['read_floor']:.2f} x parse"
            )
        if row["scenario"] == "1% changed" or (row["scenario"] == "untouched" and row is rows[-1]):
            for label in ("no-op", "untouched"):
                same = [r for r in rows if r["scenario"] == label and r["concurrency"] == row["concurrency"]]
                for what, key in (("process wall", "wall"), ("run itself", "run_seconds")):
                    ratios = sorted(r[key] / r["read_floor"] for r in same)
                    print(
                        f"{'':<12} {label} (unchanged) {what} / parse over {len(ratios)} runs: min "
                        f"{ratios[0]:.2f}, median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f} "
                        "(target <= 0.2)"
                    )
        if row["scenario"] == "1% changed":
            expected = row["expected"]
            print(
                f"{'':<12} expected: {expected['changed']} updated, {expected['new']} created, "
                f"{expected['removed']} deleted; got {counts.get('updated')} updated, {counts.get('created')} "
                f"created, {counts.get('deleted')} deleted"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[5, 1])
    parser.add_argument("--imports-only", action="store_true", help="Only the import-time figure.")
    parser.add_argument("--no-change", action="store_true", help="Leave out the 1% changed re-sync.")
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
