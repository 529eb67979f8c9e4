"""Transient errors on single bulk result lines (issue 16, acceptance 3): a line the shop answers with
"This product is currently being modified. Please try again later." is sent again within the run, a
bounded number of times; a create the shop did write before answering so is updated, never made twice.
Whole `run_sync` runs against the simulator, whose `line_errors` fault answers lines in the recorded
shape (a top-level error with `__lineNumber` and a null payload)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from subprocess import PIPE
from typing import Any

import asyncpg
import orjson
import pytest
from shop_support import ConfigFeed, Configs, MakeFeed, Shop, flat_rows, grouped_rows
from support import erpsync_env, shop_products

from erpsync.db.pool import create_pool
from erpsync.metrics import REGISTRY, observe_run
from erpsync.result_lines import LINE_RETRIES
from erpsync.run_result import SyncResult
from erpsync.settings import DatabaseSettings, Settings
from erpsync.shopify import documents
from erpsync.shopify.bulk import LineOutcome, run_file
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.throttle import Throttle


async def holders(feed: ConfigFeed) -> dict[str, list[tuple[str, str, str]]]:
    """For each SKU, every product of the shop holding it, as (id, title, price)."""
    return {
        sku: [
            (product["id"], product["title"], variant["price"])
            for product in products
            for variant in product["variants"]["nodes"]
            if variant["sku"] == sku
        ]
        for sku, products in (await feed.configs.shop.by_sku()).items()
    }


async def line_errors_served(feed: ConfigFeed) -> int:
    return int((await feed.configs.shop.simulator.stats())["bulk_line_errors"])


@pytest.mark.parametrize("written", [False, True], ids=["not-written", "written-then-error"])
async def test_transient_line_error_on_a_create_is_retried_within_the_run(
    make_feed: MakeFeed, written: bool
) -> None:
    """One create answered "currently being modified": sent again in a follow-up operation, the run
    succeeds with every product once in the shop; when the shop had written it before answering, the
    retry (by erpsync's custom ID) updates that product rather than making a second."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(line_errors={"skus": ["SKU-2"], "count": 1, "written": written})
    rows = flat_rows(4)
    feed.write(rows)
    result = await feed.sync()
    assert await line_errors_served(feed) == 1
    assert result.status == "succeeded", result
    assert (result.counts["created"], result.counts["failed"]) == (4, 0)
    assert (result.counts["retried"], result.counts["failed_transient"]) == (1, 0)
    shop = await holders(feed)
    assert sorted(shop) == ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    assert all(len(products) == 1 for products in shop.values()), shop
    [(product_id, title, price)] = shop["SKU-2"]
    assert (title, price) == ("Product 2", "10.00")
    tracked = await feed.configs.pool.fetchval(
        "SELECT shopify_product_id FROM product_states WHERE config_id = 'acme' AND product_key = 'SKU-2'"
    )
    assert tracked == product_id
    again = await feed.settled()
    assert (again.counts["unchanged"], again.counts["planned_create"]) == (4, 0)


async def test_transient_line_error_on_an_update_written_then_answered_is_retried(
    make_feed: MakeFeed,
) -> None:
    """An update whose write went through but whose line came back as an error is sent again by id: the
    product keeps its id and shows the feed's new price, and the run counts one retry."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    await feed.sync()
    before = await holders(feed)
    await feed.configs.shop.simulator.faults(line_errors={"skus": ["SKU-3"], "count": 1, "written": True})
    rows = flat_rows(3)
    rows[2]["price"] = "12.50"
    feed.write(rows)
    result = await feed.sync()
    assert await line_errors_served(feed) == 1
    assert result.status == "succeeded", result
    assert (result.counts["updated"], result.counts["retried"], result.counts["failed"]) == (1, 1, 0)
    after = await holders(feed)
    assert after["SKU-3"] == [(before["SKU-3"][0][0], "Product 3", "12.50")]
    assert after["SKU-1"] == before["SKU-1"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT", None),
        ("INTERNAL_SERVER_ERROR", None),
        ("THROTTLED", None),
        (None, "This product is currently being modified. Please try again later."),
        (None, "Throttled"),
    ],
    ids=["parallel", "internal", "throttled", "message-only", "throttled-message-only"],
)
async def test_every_transient_line_shape_is_retried(
    make_feed: MakeFeed, code: str | None, message: str | None
) -> None:
    """Each transient shape a line can carry (by code, or by the recorded message without one) is
    retried; every second line fails once, and all products end in the shop once."""
    feed = await make_feed()
    fault: dict[str, Any] = {"every": 2, "count": 3, "code": code}
    if message is not None:
        fault["message"] = message
    await feed.configs.shop.simulator.faults(line_errors=fault)
    feed.write(flat_rows(6))
    result = await feed.sync()
    assert await line_errors_served(feed) == 3
    assert result.status == "succeeded", result
    assert (result.counts["created"], result.counts["retried"], result.counts["failed"]) == (6, 3, 0)
    shop = await holders(feed)
    assert len(shop) == 6
    assert all(len(products) == 1 for products in shop.values()), shop


@pytest.mark.parametrize("written", [False, True], ids=["not-written", "written-then-error"])
async def test_transient_error_that_never_clears_fails_after_the_bound(
    make_feed: MakeFeed, written: bool
) -> None:
    """A line that keeps failing is sent again `LINE_RETRIES` times, then counted failed with a reason
    that says so; the run is partial, the others are written, and the shop never holds the product twice.
    The next run, with the shop answering again, finishes it without a duplicate."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(line_errors={"skus": ["SKU-2"], "written": written})
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert await line_errors_served(feed) == 1 + LINE_RETRIES
    assert result.status == "partial", result
    assert (result.counts["created"], result.counts["failed"]) == (2, 1)
    assert (result.counts["retried"], result.counts["failed_transient"]) == (1, 1)
    [error] = await feed.logs("error")
    assert error["sku"] == "SKU-2"
    assert "currently being modified" in error["message"]
    assert f"still there after {LINE_RETRIES} retries" in error["message"]
    shop = await holders(feed)
    assert len(shop.get("SKU-2", [])) == (1 if written else 0)
    await feed.configs.shop.simulator.faults(clear=True)
    again = await feed.sync()
    assert again.status == "succeeded", again
    # A product the shop wrote (but answered as failed) is found by its SKU and adopted, then updated.
    expected = (0, 1, 1) if written else (1, 0, 0)
    assert (again.counts["created"], again.counts["updated"], again.counts["adopted"]) == expected
    assert (again.counts["retried"], again.counts["failed"]) == (0, 0)
    shop = await holders(feed)
    assert [(title, price) for _, title, price in shop["SKU-2"]] == [("Product 2", "10.00")]


async def test_user_errors_are_not_retried_and_counted_apart(make_feed: MakeFeed) -> None:
    """A userError is the shop refusing the input: failed at once, never sent again; a transient error
    in the same run is retried. The counts tell the two apart."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(
        sku_errors={"SKU-1": "Price must be positive"}, line_errors={"skus": ["SKU-2"], "count": 1}
    )
    feed.write(flat_rows(4))
    result = await feed.sync()
    assert result.status == "partial", result
    assert (result.counts["created"], result.counts["failed"]) == (3, 1)
    assert (
        result.counts["retried"],
        result.counts["failed_transient"],
        result.counts["failed_mismatch"],
    ) == (
        1,
        0,
        0,
    )
    stats = await feed.configs.shop.simulator.stats()
    assert stats["bulk_lines"] == 4 + 1  # only SKU-2's line went again
    [error] = await feed.logs("error")
    assert (error["sku"], "Price must be positive" in error["message"]) == ("SKU-1", True)


async def test_line_error_fault_is_checked_by_the_simulator(make_feed: MakeFeed) -> None:
    """The admin endpoint refuses a malformed `line_errors` fault and shows the one set."""
    feed = await make_feed()
    simulator = feed.configs.shop.simulator
    async with simulator.session.post(
        f"{simulator.base_url}/_simulator/faults", json={"line_errors": {"sku": ["X"]}}
    ) as response:
        assert response.status == 400
    shown = await simulator.admin("POST", "/_simulator/faults", {"line_errors": {"every": 3, "count": 2}})
    assert shown["line_errors"]["every"] == 3
    assert shown["line_errors"]["code"] == "TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT"
    cleared = await simulator.admin("POST", "/_simulator/faults", {"line_errors": None})
    assert cleared["line_errors"] is None


async def test_injected_line_error_has_the_recorded_shape(shopify: Any, tmp_path: Path) -> None:
    """The simulator answers an injected line as the recorded result line: a top-level error with its
    location, path and code, `data.productSet` null, the line's `__lineNumber`; with `written` the
    product is in the shop all the same."""
    await shopify.faults(line_errors={"skus": ["SKU-2"], "count": 1, "written": True})
    with BulkFileWriter(tmp_path, "shape") as writer:
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            writer.add(sku, {"identifier": {"handle": sku.lower()}, "input": shop_input(sku)})
    outcomes: dict[str, LineOutcome] = {}

    async def started(_: BulkFile, __: str) -> None:
        return None

    async def collect(_: BulkFile, batch: list[LineOutcome]) -> None:
        outcomes.update((outcome.key, outcome) for outcome in batch)

    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        result = await run_file(
            client, documents.PRODUCT_SET_BULK, writer.files[0], on_started=started, on_outcomes=collect
        )
        assert result.operation.url is not None
        async with client.session.get(result.operation.url) as response:
            lines = [orjson.loads(line) for line in (await response.read()).splitlines(keepends=False)]
    [line] = [line for line in lines if line["__lineNumber"] == 1]
    [error] = line["errors"]
    assert error["message"] == "This product is currently being modified. Please try again later."
    assert error["path"] == ["productSet"]
    assert error["extensions"] == {"code": "TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT"}
    assert error["locations"][0]["line"] == 1
    assert line["data"] == {"productSet": None}
    assert (outcomes["SKU-2"].status, outcomes["SKU-2"].payload) == ("errors", None)
    assert [outcomes[sku].status for sku in ("SKU-1", "SKU-3")] == ["ok", "ok"]
    handles = await shopify_handles(shopify)
    assert handles == ["sku-1", "sku-2", "sku-3"]


def shop_input(sku: str) -> dict[str, Any]:
    return {
        "handle": sku.lower(),
        "title": f"Product {sku}",
        "status": "ACTIVE",
        "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        "variants": [
            {"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku, "price": "9.90"}
        ],
    }


async def shopify_handles(shopify: Any) -> list[str]:
    return sorted(product["handle"] for product in await Shop(shopify).catalogue())


AGAIN_RUNNING = """
SELECT true FROM sync_runs, jsonb_array_elements(bulk_operations) AS entry
WHERE status = 'running' AND entry->>'step' = 'again-1' AND entry->>'id' IS NOT NULL
"""


async def test_run_killed_during_a_follow_up_operation_resumes_without_a_duplicate(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """A real `erpsync sync` killed with SIGKILL while a line's follow-up operation runs: the next
    `erpsync sync` resumes it, and the shop holds every SKU once with the feed's values."""
    simulator = await start_shopify(bulk_rate=40.0)
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=2))
    try:
        feed = await Configs(settings, pool, tmp_path, simulator).add("acme")
    finally:
        await pool.close()
    feed.write(flat_rows(6))
    await simulator.faults(line_errors={"skus": ["SKU-3"], "written": True})
    env = erpsync_env(
        settings, tmp_path, shop_url=simulator.base_url, ERPSYNC_SHOPIFY__RETRY_BASE_DELAY="0.01"
    )

    async def erpsync_sync() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "erpsync", "sync", "acme", env=env, stdout=PIPE, stderr=PIPE
        )

    first = await erpsync_sync()
    async with asyncio.timeout(60):
        while not await db.fetchval(AGAIN_RUNNING):
            assert first.returncode is None, "the run ended before its follow-up operation"
            await asyncio.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    await first.communicate()
    await simulator.faults(clear=True)
    second = await erpsync_sync()
    out, err = await second.communicate()
    assert second.returncode == 0, (out + err).decode()[-3000:]
    products = await shop_products(simulator)
    skus = sorted(variant["sku"] for product in products for variant in product["variants"]["nodes"])
    assert skus == [f"SKU-{n}" for n in range(1, 7)], "a product was lost or duplicated"
    statuses = [row["status"] for row in await db.fetch("SELECT status FROM sync_runs ORDER BY id")]
    assert "running" not in statuses
    assert statuses[-1] == "succeeded"
    assert await db.fetchval("SELECT count(*) FROM product_states WHERE config_id = 'acme'") == 6


@pytest.mark.parametrize("policy", ["delete", "archive"])
async def test_transient_error_on_a_removal_is_retried(make_feed: MakeFeed, policy: str) -> None:
    """A product that left the feed, whose removal line (written or not) came back "currently being
    modified": the removal goes again within the run, which succeeds; the other products are untouched."""
    feed = await make_feed()
    await feed.change(delete_policy=policy)
    feed.write(flat_rows(5))
    await feed.sync()
    before = await holders(feed)
    # The next run sends one line (SKU-5's removal): answer it once with the error, after writing it.
    await feed.configs.shop.simulator.faults(line_errors={"every": 1, "count": 1, "written": True})
    feed.write(flat_rows(4))
    result = await feed.sync()
    assert await line_errors_served(feed) == 1
    assert result.status == "succeeded", result
    assert (result.counts["deleted"], result.counts["retried"], result.counts["failed"]) == (1, 1, 0)
    after = await holders(feed)
    assert {sku: after[sku] for sku in ("SKU-1", "SKU-2", "SKU-3", "SKU-4")} == {
        sku: before[sku] for sku in ("SKU-1", "SKU-2", "SKU-3", "SKU-4")
    }
    if policy == "delete":
        assert "SKU-5" not in after
    else:
        statuses = {
            p["variants"]["nodes"][0]["sku"]: p["status"] for p in await feed.configs.shop.catalogue()
        }
        assert statuses["SKU-5"] == "ARCHIVED"


def test_line_counts_reach_the_metrics() -> None:
    """`/metrics` counts the products sent again and the lines failed by a transient error or a mismatch."""

    def sample(action: str) -> float:
        return (
            REGISTRY.get_sample_value("erpsync_products_total", {"config_id": "acme", "action": action})
            or 0.0
        )

    before = {action: sample(action) for action in ("retried", "failed_transient", "failed_mismatch")}
    counts = {"retried": 3, "failed_transient": 1, "failed_mismatch": 2}
    observe_run("acme", SyncResult(1, "partial", counts))
    assert {action: sample(action) - before[action] for action in before} == counts


async def test_retried_update_that_adds_a_variant_leaves_one_variant_per_sku(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """An update adding a size, written by the shop but answered as an error: sent again, the product
    ends with each SKU once (productSet's variant list replaces the first attempt's), tracked in full."""
    simulator = await start_shopify()
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=5))
    try:
        feed = await Configs(settings, pool, tmp_path, simulator).add("acme", grouped=True)
        feed.write(grouped_rows({"P1": ["A1", "A2"], "P2": ["B1"]}))
        assert (await feed.sync()).status == "succeeded"
        await simulator.faults(line_errors={"skus": ["A3"], "count": 1, "written": True})
        feed.write(grouped_rows({"P1": ["A1", "A2", "A3"], "P2": ["B1"]}))
        result = await feed.sync()
        assert await line_errors_served(feed) == 1
        assert result.status == "succeeded", result
        assert (result.counts["updated"], result.counts["retried"]) == (1, 1)
        shop = await feed.configs.shop.by_sku()
        assert sorted(shop) == ["A1", "A2", "A3", "B1"]
        assert all(len(products) == 1 for products in shop.values()), shop
        [product] = shop["A3"]
        assert sorted(variant["sku"] for variant in product["variants"]["nodes"]) == ["A1", "A2", "A3"]
        variants = await pool.fetch("SELECT sku, shopify_variant_id FROM products WHERE config_id = 'acme'")
        in_shop = {variant["sku"]: variant["id"] for variant in product["variants"]["nodes"]}
        assert {row["sku"]: row["shopify_variant_id"] for row in variants if row["sku"] in in_shop} == in_shop
    finally:
        await pool.close()
