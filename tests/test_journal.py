"""The journal of every run (issue 17, acceptance 4): per product, what the run did — action, changed
fields before → after, result, the bulk operation and line — kept after the run ends, readable by run
(`GET /runs/{id}/changes`, `erpsync runs show ID --changes`) and by SKU
(`GET /configs/{id}/products/{sku}/history`), pruned with runs and logs after `[sync] journal_days`.
Whole runs against the simulator and PostgreSQL."""

from __future__ import annotations

from typing import Any

from shop_support import ConfigFeed, MakeFeed, flat_rows

from erpsync.db.changes import Change, run_changes


async def journal(feed: ConfigFeed, run_id: int, **filters: Any) -> list[Change]:
    return await run_changes(feed.configs.pool, run_id, limit=1000, **filters)


async def prices(feed: ConfigFeed) -> dict[str, tuple[str, str]]:
    """The shop's products by SKU: (title, price), as a merchant sees them."""
    return {
        variant["sku"]: (product["title"], variant["price"])
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    }


async def test_run_journals_create_updates_and_delete(make_feed: MakeFeed) -> None:
    feed = await make_feed()
    feed.write(flat_rows(5))
    first = await feed.sync()
    assert first.status == "succeeded", first
    rows = flat_rows(4)
    rows[0]["price"] = "12.50"
    rows[1]["title"] = "Renamed"
    feed.write([*rows, *flat_rows(1, start=6)])
    second = await feed.sync()
    assert second.status == "succeeded", second
    for change in await journal(feed, second.run_id):
        print(change)
