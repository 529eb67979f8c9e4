"""The drift check's window (issue 18, acceptance 1): it starts when the previous checked run asked the
shop, so an edit made while that run was still writing is seen; the products that run wrote itself are
known by their `updatedAt` and cost a line each, never a read of all they hold. Whole runs against
PostgreSQL and the simulator, the shop read afterwards."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from shop_support import MakeFeed, flat_rows
from support import poll_until
from test_drift import edit_product, fields_of, first_sync, next_second

LAST_EXPORT = "{ currentBulkOperation(type: QUERY) { query objectCount status } }"


def shop_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_an_edit_made_while_the_previous_run_wrote_is_seen_by_the_next(make_feed: MakeFeed) -> None:
    """Run 2 asks the shop what changed, then spends seconds writing; a merchant retitles another product
    meanwhile. Run 3 (no overlap at all) still sees that edit and writes the title back, because its
    window starts where run 2 asked, not where run 2 ended."""
    feed = await make_feed(options={"bulk_rate": 0.5}, sync={"drift_overlap_seconds": 0})
    await first_sync(feed, flat_rows(2))
    feed.write(flat_rows(1, price="11.00") + flat_rows(1, start=2))

    async def writing() -> bool:
        entries = await feed.configs.pool.fetchval(
            "SELECT bulk_operations FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1"
        )
        return any(entry.get("id") for entry in entries or [])

    second = asyncio.create_task(feed.sync())
    await poll_until(writing)
    await next_second()  # the edit's `updatedAt` is a second later than the moment run 2 asked
    await edit_product(feed, "SKU-2", title="Retitled by hand")
    edited = shop_time((await fields_of(feed, "SKU-2"))["updatedAt"])
    result = await second
    assert result.status == "succeeded", result
    ended = await feed.configs.pool.fetchval("SELECT finished_at FROM sync_runs WHERE id = $1", result.run_id)
    assert edited < ended  # the edit came while run 2 was still at work

    third = await feed.sync()
    assert third.status == "succeeded", third
    assert (third.counts["drift"]["fields"], third.counts["drift"]["written_back"]) == (1, 1)
    assert (await fields_of(feed, "SKU-2"))["title"] == "Product 2"
    assert (await fields_of(feed, "SKU-1"))["variants"]["nodes"][0]["price"] == "11.00"


@pytest.mark.parametrize("lookup_limit", [200, 0], ids=["paginated", "by-export"])
async def test_what_the_previous_run_wrote_is_listed_not_read(make_feed: MakeFeed, lookup_limit: int) -> None:
    """Run 2 rewrites every product; run 3, on the same feed, finds all of them updated in its window, knows
    each by the `updatedAt` run 2 recorded, compares none and ends `unchanged`. Past `sku_lookup_limit` the
    list is one bulk export of ids and times: one line a product, no variant read."""
    feed = await make_feed(sync={"drift_overlap_seconds": 0, "sku_lookup_limit": lookup_limit})
    await first_sync(feed, flat_rows(4))
    feed.write(flat_rows(4, price="12.00"))
    assert (await feed.sync()).counts["updated"] == 4
    exports = (await feed.configs.shop.simulator.stats())["bulk_operations"]["QUERY"]

    third = await feed.sync()
    assert third.status == "unchanged", third
    drift: dict[str, Any] = third.counts["drift"]
    assert (drift["updated_in_shop"], drift["known"], drift["compared"], drift["drifted"]) == (4, 4, 0, 0)
    stats = await feed.configs.shop.simulator.stats()
    if lookup_limit:
        assert stats["bulk_operations"]["QUERY"] == exports  # listed 250 a request
        return
    assert stats["bulk_operations"]["QUERY"] == exports + 1
    last = (await feed.configs.shop.graphql(LAST_EXPORT))["currentBulkOperation"]
    assert (last["status"], last["objectCount"]) == ("COMPLETED", "4")
    assert "variants" not in last["query"]
    assert "updatedAt" in last["query"]
