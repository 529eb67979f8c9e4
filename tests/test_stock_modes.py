"""Stock that does not oversell: units sold in the shop between two feeds are never listed again.

Each test syncs a feed, sells units in the simulated shop (`POST /_simulator/sell`, as an order does),
syncs the next feed and reads what the shop shows. Rules: erpsync/stock_rules.py; README "Stock modes".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from shop_support import ConfigFeed, MakeFeed
from support import poll_until

SKUS = ("A", "B", "C", "D")


def rows(stock: dict[str, int], *, price: str = "10.00") -> list[dict[str, Any]]:
    return [{"sku": sku, "title": f"Product {sku}", "price": price, "stock": n} for sku, n in stock.items()]


async def available(feed: ConfigFeed) -> dict[str, int]:
    """What the shop shows as available, by SKU (the simulator has one location)."""
    return {
        variant["sku"]: variant["inventoryQuantity"]
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    }


async def sell(feed: ConfigFeed, sku: str, quantity: int) -> None:
    """An order in the shop takes `quantity` units of `sku`."""
    await feed.configs.shop.simulator.admin("POST", "/_simulator/sell", {"sku": sku, "quantity": quantity})


async def inventory_writes(feed: ConfigFeed) -> int:
    return await feed.configs.shop.mutations("inventorySetQuantities")


async def test_absolute_mode_never_relists_units_sold_since_the_last_write(make_feed: MakeFeed) -> None:
    """Absolute mode, 3 units sold of each SKU after the first feed (10 each): the ERP that has not yet
    imported the sale (A: still 10, C: 10 + 5 received) does not bring them back; one that imported it
    (B: 7, D: 4 after more sales of its own) is taken as it is. The shop shows 7, 7, 12, 4."""
    feed = await make_feed()
    feed.write(rows(dict.fromkeys(SKUS, 10)))
    first = await feed.sync()
    assert first.status == "succeeded", first
    assert await available(feed) == dict.fromkeys(SKUS, 10)
    for sku in SKUS:
        await sell(feed, sku, 3)

    feed.write(rows({"A": 10, "B": 7, "C": 15, "D": 4}, price="11.00"))
    second = await feed.sync()

    assert second.status == "succeeded", second
    assert await available(feed) == {"A": 7, "B": 7, "C": 12, "D": 4}
    # A's ERP quantity did not change: no line. B, C, D: one line, compared again once after the sales.
    assert second.counts["stock_lines"] == 1
    assert second.counts["stock_compared_again"] == 3
    assert await inventory_writes(feed) == 2


async def test_delta_mode_applies_the_erps_change_to_what_the_shop_holds(make_feed: MakeFeed) -> None:
    """Delta mode, for an ERP that does not import the shop's orders: ERP 10 → 8 while the shop sold 3 of
    10 shows 5; ERP 10 → 13 (received 3) while the shop sold 2 shows 11; an untouched SKU stays 10."""
    feed = await make_feed(stock_mode="delta")
    feed.write(rows({"A": 10, "B": 10, "C": 10}))
    assert (await feed.sync()).status == "succeeded"
    await sell(feed, "A", 3)
    await sell(feed, "B", 2)

    feed.write(rows({"A": 8, "B": 13, "C": 10}))
    result = await feed.sync()

    assert result.status == "succeeded", result
    assert await available(feed) == {"A": 5, "B": 11, "C": 10}
    assert result.counts["stock_compared_again"] == 2

    # The next feed with the same quantities changes nothing: the ERP's change was applied once.
    feed.write(rows({"A": 8, "B": 13, "C": 10}, price="12.00"))
    again = await feed.sync()
    assert again.counts["stock_lines"] == 0
    assert await available(feed) == {"A": 5, "B": 11, "C": 10}


async def test_safety_stock_keeps_units_back_and_never_goes_below_zero(make_feed: MakeFeed) -> None:
    """A safety stock of 3: created with 10 and 2 the shop shows 7 and 0; the ERP going to 20 and 1
    shows 17 and 0."""
    feed = await make_feed(safety_stock=3)
    feed.write(rows({"A": 10, "B": 2}))
    assert (await feed.sync()).status == "succeeded"
    assert await available(feed) == {"A": 7, "B": 0}
    feed.write(rows({"A": 20, "B": 1}))
    assert (await feed.sync()).status == "succeeded"
    assert await available(feed) == {"A": 17, "B": 0}


async def test_safety_stock_caps_delta_mode_too(make_feed: MakeFeed) -> None:
    """Delta mode with a safety stock of 3: the ERP's change is applied to what the shop holds, but the
    shop never shows more than the ERP's quantity less 3, nor less than 0."""
    delta = await make_feed(stock_mode="delta", safety_stock=3)
    delta.write(rows({"A": 10}))
    assert (await delta.sync()).status == "succeeded"
    assert await available(delta) == {"A": 7}
    await sell(delta, "A", 1)
    delta.write(rows({"A": 12}))  # received 2: 6 + 2, under the cap of 12 - 3
    assert (await delta.sync()).status == "succeeded"
    assert await available(delta) == {"A": 8}
    delta.write(rows({"A": 4}))  # lost 8: 8 - 8, and the cap is 1
    assert (await delta.sync()).status == "succeeded"
    assert await available(delta) == {"A": 0}


async def test_a_compare_mismatch_is_read_again_and_bounded(make_feed: MakeFeed) -> None:
    """A sale lands between erpsync's read and its write, every time (the simulator's `inventory_races`):
    after the line and 3 rounds read again the SKU fails with a message, the run is partial, and the
    shop keeps what it sold; the next run writes the product again and the shop ends right."""
    feed = await make_feed()
    feed.write(rows({"A": 10}))
    assert (await feed.sync()).status == "succeeded"
    await feed.configs.shop.simulator.faults(inventory_races=4)
    feed.write(rows({"A": 20}))
    result = await feed.sync()

    assert result.status == "partial", result
    assert result.counts["stock_failed"] == 1
    assert result.counts["failed"] == 1  # the product, whose only change was its stock: tried next run
    assert await available(feed) == {"A": 6}  # 10, less the 4 units sold while erpsync wrote
    [line] = [log for log in await feed.logs("error") if log["sku"] == "A"]
    assert "stock of SKU A not written" in line["message"]

    again = await feed.sync()
    assert again.status == "succeeded", again
    # Absolute mode: 4 sold since erpsync's last write, the ERP's quantity went up: 20 - 4.
    assert await available(feed) == {"A": 16}


async def test_a_line_sent_again_is_applied_once(make_feed: MakeFeed) -> None:
    """A stock line the shop applied but answered with a transient error is sent again with the same
    idempotency key: the shop answers it from the key (no second change), erpsync records it written."""
    feed = await make_feed()
    feed.write(rows({"A": 10, "B": 10}))
    assert (await feed.sync()).status == "succeeded"
    await feed.configs.shop.simulator.faults(
        line_errors={"mutation": "inventorySetQuantities", "every": 1, "count": 1, "written": True}
    )
    feed.write(rows({"A": 4, "B": 16}))
    result = await feed.sync()

    assert result.status == "succeeded", result
    assert await available(feed) == {"A": 4, "B": 16}
    stats = await feed.configs.shop.simulator.stats()
    assert stats["bulk_line_errors"] == 1
    assert stats["inventory"]["idempotent_replays"] == 1
    assert result.counts["stock_compared_again"] == 0
    assert result.counts["stock_written"] == 2


async def test_a_run_stopped_while_its_stock_line_runs_resumes_without_applying_it_twice(
    make_feed: MakeFeed,
) -> None:
    """Stopped (a shutdown) once its stock operation started, the run is resumed by the next sync: the
    operation is polled by its stored id, never sent again, and the shop ends as one run would leave it."""
    feed = await make_feed(options={"bulk_rate": 2.0})
    feed.write(rows({"A": 10, "B": 10}))
    assert (await feed.sync()).status == "succeeded"
    await sell(feed, "A", 3)
    feed.write(rows({"A": 20, "B": 5}))

    async def stock_started() -> bool:
        entries = await feed.configs.pool.fetchval(
            "SELECT bulk_operations FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1"
        )
        return any(entry.get("step") == "stock" and entry.get("id") for entry in entries or [])

    stopped = asyncio.create_task(feed.sync())
    await poll_until(stock_started)
    stopped.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopped

    await feed.sync()  # resumes the stopped run first
    resumed = await feed.configs.pool.fetchrow("SELECT status, counts FROM sync_runs WHERE id = 2")
    assert resumed["status"] == "succeeded", resumed
    assert await available(feed) == {"A": 17, "B": 5}  # 20, less the 3 sold since erpsync's last write
    # The stock line once in bulk, once more after the compare mismatch: nothing twice.
    assert await inventory_writes(feed) == 2
    assert (await feed.configs.shop.simulator.stats())["bulk_mutations"]["inventorySetQuantities"] == 1


async def test_an_update_without_a_stock_change_sends_no_inventory_line(make_feed: MakeFeed) -> None:
    """A price change with the same quantities writes the products and no stock at all; a stock-only
    change writes stock without putting quantities into productSet."""
    feed = await make_feed()
    feed.write(rows({"A": 10, "B": 10}))
    assert (await feed.sync()).status == "succeeded"
    assert await inventory_writes(feed) == 0  # creates take their first stock in productSet

    feed.write(rows({"A": 10, "B": 10}, price="12.00"))
    result = await feed.sync()
    assert result.counts["updated"] == 2
    assert result.counts["stock_lines"] == 0
    assert await inventory_writes(feed) == 0

    feed.write(rows({"A": 10, "B": 9}, price="12.00"))
    result = await feed.sync()
    assert result.counts["stock_lines"] == 1
    assert result.counts["stock_written"] == 1
    assert await inventory_writes(feed) == 1
    assert await available(feed) == {"A": 10, "B": 9}
