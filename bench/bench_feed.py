"""The sync benchmark's feed: a deterministic CSV in which fractions of the products change, by index."""

from __future__ import annotations

import csv
from pathlib import Path

SIZES = ("XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL")


def write_feed(
    path: Path,
    products: int,
    variants: int,
    *,
    changed: float = 0.0,
    new: float = 0.0,
    removed: float = 0.0,
    price_delta: int = 1,
    stock_changed: float = 0.0,
) -> dict[str, int]:
    """A deterministic CSV; the fractions pick products by index so every scenario is reproducible.

    Changed products have their price raised by `price_delta`; `stock_changed` products (others than the
    changed and removed ones) hold one more of each variant."""
    every_changed = int(1 / changed) if changed else 0
    every_stocked = int(1 / stock_changed) if stock_changed else 0
    every_removed = int(1 / removed) if removed else 0
    added = int(products * new)
    counts = {"changed": 0, "removed": 0, "new": added, "stock": 0}
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
                "image",
            ]
        )
        for index in range(products + added):
            if every_removed and index < products and index % every_removed == every_removed - 1:
                counts["removed"] += 1
                continue
            price = 19.9 + (index % 50)
            if every_changed and index < products and index % every_changed == 0:
                price += price_delta
                counts["changed"] += 1
            extra = 0
            if every_stocked and index < products and index % every_stocked == every_stocked // 2:
                extra = 1
                counts["stock"] += 1
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
                        (index + variant) % 30 + extra,
                        f"400{index:07d}{variant}",
                        "0.35",
                        "summer,cotton",
                        f"A fine product number {index}",
                        "navy",
                        "cotton",
                        f"https://cdn.example.com/bench/P{index:07d}.jpg",
                    ]
                )
    return counts
