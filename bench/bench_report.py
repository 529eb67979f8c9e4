"""The sync benchmark's table: one row per scenario, with what each run uploaded and the shop wrote."""

from __future__ import annotations

import statistics
from typing import Any


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
            f"{row['mutations'].get('productSet', 0):>7} {row['mutations'].get('productDelete', 0):>6} "
            f"{counts.get('bulk_operations', 0):>4} {counts.get('shopify_cost', 0):>8.0f} {row['rss_mb']:>7.0f}"
            f"  {stages}"
        )
        kinds = " ".join(f"{name}={count}" for name, count in sorted(row["mutations"].items()))
        print(
            f"{'':<12} uploaded {row['uploaded']:,} bytes in {row['uploads']} uploads; variants written "
            f"{row['variants_written']:,}; media created {row['media_created']:,}; mutations {kinds or 'none'}"
        )
        if "state" in row:
            state = row["state"]
            print(
                f"{'':<12} last-written state: {state['products']:,} products, {state['stored_bytes']:,} bytes "
                f"each as stored ({state['text_bytes']:,} as JSON text); product_states "
                f"{state['table_bytes'] / 1e6:.1f} MB"
            )
        if row["scenario"] == "1% price set":
            light = next(
                r for r in rows if r["scenario"] == "1% price" and r["concurrency"] == row["concurrency"]
            )
            print(
                f"{'':<12} price-only churn: {light['uploaded']:,} bytes as variant updates vs "
                f"{row['uploaded']:,} as productSet = {light['uploaded'] / max(1, row['uploaded']):.3f} "
                f"(target <= 0.2); media created {light['media_created']} (target 0)"
            )
        if counts.get("unchanged_reason"):
            print(
                f"{'':<12} {counts['unchanged_reason']}; feed bytes transferred "
                f"{counts.get('feed_bytes_transferred', 0):,}; the run itself {row['run_seconds']:.2f} s = "
                f"{row['run_seconds'] / row['read_floor']:.2f} x parse"
            )
            if row.get("shop_seconds") is not None:
                own = row["run_seconds"] - row["shop_seconds"]
                print(
                    f"{'':<12} the simulator answers the drift check's request in {row['shop_seconds']:.2f} s; "
                    f"the run less that wait {own:.2f} s = {own / row['read_floor']:.2f} x parse"
                )
        if row["scenario"] == "1% changed" or (row["scenario"] == "untouched" and row is rows[-1]):
            for label in ("no-op", "untouched"):
                same = [r for r in rows if r["scenario"] == label and r["concurrency"] == row["concurrency"]]
                for what, key in (
                    ("process wall", "wall"),
                    ("run itself", "run_seconds"),
                    ("run less the shop's answer", "own_seconds"),
                ):
                    ratios = sorted(
                        (
                            r["run_seconds"] - (r.get("shop_seconds") or 0.0)
                            if key == "own_seconds"
                            else r[key]
                        )
                        / r["read_floor"]
                        for r in same
                    )
                    if not ratios:  # --noop-runs 0
                        continue
                    print(
                        f"{'':<12} {label} (unchanged) {what} / parse over {len(ratios)} runs: min "
                        f"{ratios[0]:.2f}, median {statistics.median(ratios):.2f}, max {ratios[-1]:.2f} "
                        "(target <= 0.2)"
                    )
        if row["scenario"] == "1% changed":
            print(adopt_line(row))
            expected = row["expected"]
            print(
                f"{'':<12} expected: {expected['changed']} updated, {expected['new']} created, "
                f"{expected['removed']} deleted; got {counts.get('updated')} updated, {counts.get('created')} "
                f"created, {counts.get('deleted')} deleted"
            )


def adopt_line(row: dict[str, Any]) -> str:
    """The adopt stage's wall time and share of the run, and what its SKU searches cost the shop."""
    counts = row["counts"]
    adopt = float((counts.get("seconds") or {}).get("adopt", 0.0))
    run = row["run_seconds"]
    return (
        f"{'':<12} adopt: {adopt:.2f} s of the run's {run:.2f} s = {adopt / max(run, 1e-9):.1%} (target <= 10%); "
        f"{counts.get('adopt_queries', 0)} SKU searches (simulator: {row.get('searches', 0)}) costing "
        f"{counts.get('adopt_cost', 0)} points for {row['expected'].get('new', 0)} new products; bulk queries "
        f"{row.get('bulk_queries', 0)} in the run"
    )
