"""Feed benchmark: fetch + parse + regroup + map + hash over loopback FTP, against a bare-parser floor.

Generates deterministic feeds of 200,000 and 1,000,000 variant rows (15 fields, 5 variants per
product) in a temporary directory, serves them with pyftpdlib in its own process, and runs each
measurement through `FeedPipeline` in a fresh process, so its peak RSS is its own. Scenarios, all
of the same products:

- `adjacent`: CSV, a product's rows next to each other (grouping mode a, the default);
- `anywhere`: the same CSV rows shuffled (mode b);
- `parent`: a WooCommerce-like CSV, a parent row per product (product fields, no price) and child rows
  naming it in `parent`, all rows shuffled, so children come before or after their parent (mode c);
- `nested`: JSON Lines, one product a line with its `variants` list (mode d);
- `jsonl`, `json`: the adjacent rows as JSON Lines / a JSON array.

The machine's speed drifts between runs, so each result is given as a ratio taken in the same run:
`adjacent`, `jsonl` and `json` to the bare `csv.reader` / `orjson.loads` floor over the same file,
timed just before and just after; the other modes to `adjacent` (variants per second, same products).
`--without NAME` runs with a C loop of erpsync/_speedups.c switched off (its Python twin instead);
`--ablate` measures `adjacent` with each C loop off in turn, between runs with all of them on.

    .venv/bin/python bench/feeds.py [--rows 200000 1000000] [--scenarios adjacent anywhere parent nested]
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
from itertools import groupby
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


PARENT_FIELDS = ["sku", "parent", *FIELDS[2:]]
# The product cells of a row (title to tags, material); the rest are a variant's.
PRODUCT_CELLS = (2, 3, 4, 5, 6, 14)
VARIANT_CELLS = (1, 7, 8, 9, 10, 11, 12, 13)
SCENARIOS = {
    # name: (file suffix, floor parser or None for a ratio to `adjacent`, config overrides)
    "adjacent": (".csv", "csv", {}),
    "anywhere": ("_anywhere.csv", None, {"grouping": {"mode": "anywhere"}}),
    "parent": ("_parent.csv", None, {"grouping": {"mode": "parent", "parent": "parent"}, "product_key": None}),
    "nested": ("_nested.jsonl", None, {"grouping": {"mode": "nested", "variants": "variants"}}),
    "jsonl": (".jsonl", "jsonl", {}),
    "json": (".json", "json", {}),
}  # fmt: skip


def write_csv(path: Path, header: list[str], records: Any, *, shuffle: bool = False) -> None:
    """A CSV file of `records`, optionally shuffled (see `shuffled`)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(records)
    if shuffle:
        header_line, *lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(header_line + b"".join(shuffled(lines)))


def shuffled(lines: list[bytes]) -> list[bytes]:
    """The lines (no cell holds a line break) in a fixed random order, but a product's variant rows
    kept in their own order among themselves: a product's variants are in feed order, so the products
    stay those of the adjacent feed, hash for hash. A parent row (its `parent` cell empty) goes anywhere.
    """
    positions = list(range(len(lines)))
    random.Random(7).shuffle(positions)
    out = [b""] * len(lines)
    # The key is the first 8 bytes, `P0000000`, of a row's parent_sku, or of a parent's or child's SKU.
    for _, group in groupby(range(len(lines)), key=lambda index: lines[index][:8]):
        indexes = list(group)
        parents = [index for index in indexes if lines[index][8:10] == b",,"]
        for index in parents:
            out[positions[index]] = lines[index]
        children = [index for index in indexes if index not in parents]
        for index, position in zip(children, sorted(positions[index] for index in children), strict=True):
            out[position] = lines[index]
    return out


def parent_rows(count: int) -> Any:
    """WooCommerce's shape: a parent row with the product cells, a child row per variant naming it."""
    for row in rows(count):
        if row[1].endswith("-0"):
            parent = [row[0], "", *[""] * 13]
            for index in PRODUCT_CELLS:
                parent[index] = row[index]
            yield parent
        child = [row[1], row[0], *[""] * 13]
        for index in VARIANT_CELLS[1:]:
            child[index] = row[index]
        yield child


def nested_lines(count: int) -> Any:
    """One product a line, its variants a list, the keys named as in the flat feeds."""
    product: dict[str, Any] | None = None
    for row in rows(count):
        if product is None or product["parent_sku"] != row[0]:
            if product is not None:
                yield orjson.dumps(product) + b"\n"
            product = {"parent_sku": row[0], **{FIELDS[index]: row[index] for index in PRODUCT_CELLS}}
            product["variants"] = []
        product["variants"].append({FIELDS[index]: row[index] for index in VARIANT_CELLS})
    if product is not None:
        yield orjson.dumps(product) + b"\n"


def generate(directory: Path, count: int, scenarios: list[str]) -> dict[str, Path]:
    """Write the feeds that are not there yet; return their paths by scenario."""
    paths = {name: directory / f"feed_{count}{SCENARIOS[name][0]}" for name in scenarios}
    for name, path in paths.items():
        if path.exists():
            continue
        if name == "parent":
            write_csv(path, PARENT_FIELDS, parent_rows(count), shuffle=True)
        elif path.suffix == ".csv":
            write_csv(path, FIELDS, rows(count), shuffle=name == "anywhere")
        elif name == "nested":
            with path.open("wb") as handle:
                handle.writelines(nested_lines(count))
        else:
            objects = (orjson.dumps(dict(zip(FIELDS, row, strict=True))) for row in rows(count))
            with path.open("wb") as handle:
                if name == "jsonl":
                    handle.writelines(line + b"\n" for line in objects)
                else:
                    handle.write(b"[\n" + b",\n".join(objects) + b"\n]\n")
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


async def pipeline(port: int, name: str, scenario: str, without: list[str]) -> dict[str, Any]:
    """The measured work: fetch over FTP, parse, regroup, map, hash; products are counted and dropped."""
    from erpsync import speedups

    for loop in without:
        setattr(speedups, loop, None)
    from erpsync.feeds import read_records
    from erpsync.mapping.pipeline import FeedPipeline
    from erpsync.models import SyncConfig
    from erpsync.sources import open_feed

    config = SyncConfig.model_validate({
        "id": "bench", "name": "bench", "connection_type": "ftp",
        "credentials": {"host": "127.0.0.1", "port": port, "username": "anonymous", "password": "bench@",
                        "filePath": f"/{name}"},
        "mapping": MAPPING, "product_key": "parent_sku", "options": ["Size", "Color"],
        "metafield_mappings": METAFIELDS, "default_weight_unit": "kg", **SCENARIOS[scenario][2],
    })  # fmt: skip
    products = variants = 0
    # The same products in every scenario: their hashes summed, whatever order they come in.
    checksum = 0

    def count(ready: list[Any]) -> None:
        nonlocal products, variants, checksum
        products += len(ready)
        variants += sum(len(product.variants) for product in ready)
        checksum += sum(int(product.content_hash, 16) for product in ready)

    with tempfile.TemporaryDirectory(prefix="erpsync-bench-work-") as work:
        started, cpu = time.perf_counter(), time.process_time()
        async with open_feed(config) as stream:
            with FeedPipeline(config, feed=stream.name, work_dir=Path(work)) as mapper:
                async for batch in read_records(
                    stream, name=stream.name, format=None, options=config.format_options
                ):
                    count(mapper.push(batch))
                for ready in mapper.drain():
                    count(ready)
                outcome = mapper.outcome()
            info = stream.info()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "rows": outcome.rows,
        "products": products,
        "variants": variants,
        "checksum": checksum % (1 << 128),
        "rejected": outcome.rejected_rows,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "bytes": info.size,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure(port: int, path: Path, scenario: str, without: list[str]) -> dict[str, Any]:
    """One scenario in a fresh process."""
    command = [sys.executable, __file__, "--measure", str(port), path.name, scenario, *without]
    measured = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(measured.stdout)
    result["rate"] = result["variants"] / result["seconds"]
    return result


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


def report(label: str, count: int, result: dict[str, Any], base: float, against: str) -> None:
    """One line of the table, and what went wrong if the products are not the expected ones."""
    print(
        f"{label:22} {count:>9} {result['bytes'] / 1e6:>6.0f} {result['rows'] / result['seconds']:>12,.0f} "
        f"{result['rate']:>12,.0f} {result['rate'] / base:>6.2f} {against:>9} {result['cpu_seconds']:>6.2f} "
        f"{result['peak_rss_mb']:>8.0f}",
        flush=True,
    )
    if result["rejected"] or result["variants"] != count:
        print(
            f"  ({result['rejected']} rows rejected, {result['variants']} variants: the feed and mapping disagree)"
        )


def run(port: int, directory: Path, arguments: argparse.Namespace) -> None:
    """Every size and scenario, or the C-loop ablation."""
    print(f"{'scenario':22} {'variants':>9} {'MB':>6} {'records/s':>12} {'variants/s':>12} {'ratio':>6} "
          f"{'to':>9} {'CPU s':>6} {'RSS MB':>8}")  # fmt: skip
    for count in arguments.rows:
        scenarios = ["adjacent"] if arguments.ablate else arguments.scenarios
        paths = generate(directory, count, scenarios)
        if arguments.ablate:
            ablate(port, paths["adjacent"], count)
            continue
        baseline: dict[str, Any] | None = None
        for name, path in paths.items():
            kind = SCENARIOS[name][1]
            if kind is None:
                if baseline is None:
                    raise SystemExit(f"{name} is measured against adjacent: list adjacent first")
                result = measure(port, path, name, arguments.without)
                report(name, count, result, baseline["rate"], "adjacent")
                if result["checksum"] != baseline["checksum"]:
                    print("  (not the products of adjacent: their hashes differ)")
                continue
            # The floor is timed just before and just after, and averaged: the machine's speed
            # drifts within seconds, so one side timed alone skews the ratio.
            floor_before = floor_rate(path, kind)
            result = measure(port, path, name, arguments.without)
            floor = (floor_before + floor_rate(path, kind)) / 2
            report(name, count, result, floor, f"{kind} {floor / 1000:,.0f}k")
            if name == "adjacent":
                baseline = result


def ablate(port: int, path: Path, count: int) -> None:
    """Each C loop off in turn, each run between two with every loop on: its share of the stage, by
    wall time and by the process's CPU time (steadier on a shared machine)."""
    from erpsync import speedups

    built = [name for name in speedups.NAMES if getattr(speedups, name) is not None]
    previous = measure(port, path, "adjacent", [])
    report("all C loops", count, previous, previous["rate"], "itself")
    for name in built:
        result = measure(port, path, "adjacent", [name])
        after = measure(port, path, "adjacent", [])
        base = (previous["rate"] + after["rate"]) / 2
        cpu = (previous["cpu_seconds"] + after["cpu_seconds"]) / 2
        report(f"without {name}", count, result, base, "all on")
        report("all C loops", count, after, base, "all on")
        print(f"  {name}: {result['cpu_seconds'] / cpu:.2f}x the CPU time without it", flush=True)
        previous = after


def main() -> None:
    """Generate, serve, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["adjacent", "anywhere", "parent", "nested"],
        choices=list(SCENARIOS),
    )
    parser.add_argument("--without", nargs="+", default=[], metavar="LOOP", help="C loops to switch off.")
    parser.add_argument("--ablate", action="store_true", help="Adjacent CSV with each C loop off in turn.")
    parser.add_argument(
        "--dir", type=Path, default=None, help="Keep generated feeds here (default: a temp dir)."
    )
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        port, name, scenario, *without = arguments.measure
        print(json.dumps(asyncio.run(pipeline(int(port), name, scenario, without))))
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
            run(port, directory, arguments)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
