"""Feed benchmark: fetch + parse + map + hash over loopback FTP, against a bare-parser floor.

Generates deterministic feeds of 200,000 and 1,000,000 variant rows (CSV, JSON Lines, JSON array;
15 fields, 5 variants per product) in a temporary directory, serves them with pyftpdlib in its own
process, and runs each measurement in a fresh process so its peak RSS is its own. The machine's
speed drifts between runs, so each result is also given as a ratio of the bare `csv.reader` /
`orjson.loads` floor timed over the same file just before and just after it.

    .venv/bin/python bench/feeds.py [--rows 200000 1000000] [--formats csv jsonl json]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

VARIANTS_PER_PRODUCT = 5
FIELDS = ["parent_sku", "sku", "title", "description", "vendor", "category", "tags", "price", "rrp", "ean",
          "stock", "weight", "size", "color", "material"]  # fmt: skip
SIZES = ["XS", "S", "M", "L", "XL"]
COLORS = ["Red", "Blue", "Green", "Black", "White", "Grey"]
VENDORS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"]
MAPPING = {
    "title": "title", "description": "description", "vendor": "vendor", "product_type": "category",
    "tags": "tags", "variant.sku": "sku", "variant.price": "price", "variant.compare_at_price": "rrp",
    "variant.barcode": "ean", "variant.inventory_quantity": "stock", "variant.weight": "weight",
    "variant.option1": "size", "variant.option2": "color",
}  # fmt: skip
METAFIELDS = [{"sourceKey": "material", "metafieldNamespace": "custom", "metafieldKey": "material",
               "metafieldType": "single_line_text_field"}]  # fmt: skip


def rows(count: int) -> Any:
    """Deterministic variant rows: same seed, same feed, on every machine."""
    generator = random.Random(20_261_001)
    for index in range(count):
        product = index // VARIANTS_PER_PRODUCT
        variant = index % VARIANTS_PER_PRODUCT
        price = generator.randint(500, 50_000) / 100
        yield [
            f"P{product:07d}",
            f"P{product:07d}-{variant}",
            f"Product {product} {generator.choice(COLORS)} edition",
            f"A sturdy product number {product}, made to last. Machine washable at 30 degrees.",
            VENDORS[product % len(VENDORS)],
            f"Category {product % 40}",
            f"tag{product % 7},tag{product % 11},sale",
            f"{price:.2f}",
            f"{price * 1.2:.2f}",
            f"{4_000_000_000_000 + index:013d}",
            str(generator.randint(0, 500)),
            f"{generator.randint(100, 5000) / 1000:.3f}",
            SIZES[variant],
            COLORS[product % len(COLORS)],
            "cotton" if product % 2 else "linen",
        ]


def generate(directory: Path, count: int, formats: list[str]) -> dict[str, Path]:
    """Write the feeds that are not there yet; return their paths by format."""
    paths = {kind: directory / f"feed_{count}.{kind}" for kind in formats}
    if "csv" in paths and not paths["csv"].exists():
        with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(FIELDS)
            writer.writerows(rows(count))
    if "jsonl" in paths and not paths["jsonl"].exists():
        with paths["jsonl"].open("wb") as handle:
            for row in rows(count):
                handle.write(orjson.dumps(dict(zip(FIELDS, row, strict=True))) + b"\n")
    if "json" in paths and not paths["json"].exists():
        with paths["json"].open("wb") as handle:
            handle.write(b"[")
            for index, row in enumerate(rows(count)):
                handle.write((b",\n" if index else b"\n") + orjson.dumps(dict(zip(FIELDS, row, strict=True))))
            handle.write(b"\n]\n")
    return paths


def floor_rate(path: Path, kind: str) -> float:
    """Rows per second of the bare parser over the local file: the floor erpsync is compared to."""
    started = time.perf_counter()
    count = 0
    if kind == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for _ in csv.reader(handle):
                count += 1
        count -= 1
    elif kind == "jsonl":
        loads = orjson.loads
        with path.open("rb") as handle:
            for line in handle:
                loads(line)
                count += 1
    else:
        count = len(orjson.loads(path.read_bytes()))
    return count / (time.perf_counter() - started)


async def pipeline(port: int, name: str) -> dict[str, Any]:
    """The measured work: fetch over FTP, parse, map, hash; products are counted and dropped."""
    from erpsync.feeds import read_records
    from erpsync.mapping import FeedMapper
    from erpsync.models import SyncConfig
    from erpsync.sources import open_feed

    config = SyncConfig.model_validate({
        "id": "bench", "name": "bench", "connection_type": "ftp",
        "credentials": {"host": "127.0.0.1", "port": port, "username": "anonymous", "password": "bench@",
                        "filePath": f"/{name}"},
        "mapping": MAPPING, "product_key": "parent_sku", "options": ["Size", "Color"],
        "metafield_mappings": METAFIELDS, "default_weight_unit": "kg",
    })  # fmt: skip
    started = time.perf_counter()
    products = 0
    async with open_feed(config) as stream:
        mapper = FeedMapper(config, feed=stream.name)
        async for batch in read_records(stream, name=stream.name, format=None, options=config.format_options):
            products += len(mapper.map_batch(batch))
        products += len(mapper.finish())
        info = stream.info()
    seconds = time.perf_counter() - started
    outcome = mapper.outcome()
    return {
        "rows": outcome.rows,
        "products": products,
        "rejected": outcome.rejected_rows,
        "seconds": seconds,
        "bytes": info.size,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
    across fork and exec, so a child would report the parent's peak (the JSON floor loads a whole file).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A free loopback port for the FTP server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    """Block until the FTP server accepts connections."""
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the FTP server did not start")


def main() -> None:
    """Generate, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument(
        "--formats", nargs="+", default=["csv", "jsonl", "json"], choices=["csv", "jsonl", "json"]
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="Keep generated feeds here (default: a temp dir)."
    )
    parser.add_argument("--measure", nargs=2, metavar=("PORT", "NAME"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        port, name = arguments.measure
        print(json.dumps(asyncio.run(pipeline(int(port), name))))
        return
    with tempfile.TemporaryDirectory(prefix="erpsync-bench-") as scratch:
        directory = arguments.dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", str(port),
             "-d", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(port)
            print(f"{'format':6} {'rows':>9} {'MB':>6} {'erpsync rows/s':>15} {'floor rows/s':>13} "
                  f"{'ratio':>6} {'peak RSS MB':>12}")  # fmt: skip
            for count in arguments.rows:
                paths = generate(directory, count, arguments.formats)
                for kind, path in paths.items():
                    # The floor is timed just before and just after, and averaged: the machine's
                    # speed drifts within seconds, so one side timed alone skews the ratio.
                    floor_before = floor_rate(path, kind)
                    measured = subprocess.run(
                        [sys.executable, __file__, "--measure", str(port), path.name],
                        capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    floor = (floor_before + floor_rate(path, kind)) / 2
                    result = json.loads(measured.stdout)
                    rate = result["rows"] / result["seconds"]
                    print(
                        f"{kind:6} {result['rows']:>9} {result['bytes'] / 1e6:>6.0f} {rate:>15,.0f} "
                        f"{floor:>13,.0f} {rate / floor:>6.2f} {result['peak_rss_mb']:>12.0f}",
                        flush=True,
                    )
                    if result["rejected"]:
                        print(
                            f"  ({result['rejected']} rows rejected: the generator and the mapping disagree)"
                        )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
