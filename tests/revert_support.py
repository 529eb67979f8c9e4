"""What the revert tests share: a catalogue of products A…H with sizes, the shop as a merchant sees it,
and a revert run as the CLI and the API start one (`erpsync.revert`)."""

from __future__ import annotations

from typing import Any

from shop_support import ConfigFeed

from erpsync.run_result import SyncResult

SIZES = ["S", "M", "L"]


def tee(
    parent: str, sizes: list[str], *, title: str | None = None, price: str = "20.00"
) -> list[dict[str, Any]]:
    """The rows of one product: one variant per size, SKU `{parent}-{size}`."""
    return [
        {"parent": parent, "sku": f"{parent}-{size}", "title": title or f"Tee {parent}", "size": size,
         "price": price, "stock": 5}
        for size in sizes
    ]  # fmt: skip


def catalogue_rows(**edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Products A…H with sizes S and M; `edits` replace a product's rows (an empty list drops it)."""
    rows: list[dict[str, Any]] = []
    for parent in "ABCDEFGH":
        rows += edits.pop(parent, tee(parent, SIZES[:2]))
    for extra in edits.values():
        rows += extra
    return rows


async def snapshot(feed: ConfigFeed) -> dict[str, Any]:
    """The shop as a merchant sees it, by erpsync's custom id (a product created again keeps it): handle,
    title, status and each variant's SKU, price and stock; hand-made products by their id."""
    found: dict[str, Any] = {}
    for product in await feed.configs.shop.catalogue():
        key = (product["metafield"] or {}).get("value") or product["id"]
        assert key not in found, f"two products carry {key}"
        variants = [(v["sku"], v["price"], v["inventoryQuantity"]) for v in product["variants"]["nodes"]]
        found[key] = (product["handle"], product["title"], product["status"], variants)
    return found


async def skus_in_shop(feed: ConfigFeed) -> dict[str, int]:
    """How many products hold each SKU."""
    return {sku: len(holders) for sku, holders in (await feed.configs.shop.by_sku()).items()}


async def revert(feed: ConfigFeed, run_id: int, **options: Any) -> SyncResult:
    from erpsync.revert import check_revertible

    target = await check_revertible(feed.configs.pool, run_id)
    assert target.config_id == feed.id
    return await feed.sync(trigger="revert", reverts_run_id=run_id, **options)


def skipped(result: SyncResult) -> dict[str, str]:
    return {skip["product_key"]: skip["reason"] for skip in result.counts["revert_skips"]}


async def two_runs(feed: ConfigFeed, **second: list[dict[str, Any]]) -> tuple[SyncResult, SyncResult]:
    """The catalogue A…H, then the same with `second`'s edits: both runs succeed."""
    feed.write(catalogue_rows())
    first = await feed.sync()
    assert first.status == "succeeded", first
    feed.write(catalogue_rows(**second))
    changed = await feed.sync()
    assert changed.status == "succeeded", changed
    return first, changed


def prices(found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """SKU -> (title, price) over a snapshot."""
    return {sku: (title, price) for _, title, _, variants in found.values() for sku, price, _ in variants}
