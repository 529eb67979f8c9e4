"""A whole sync run against real PostgreSQL and the Shopify simulator, from a feed file on disk."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from shop_support import Shop as SimulatedShop
from support import SIM_TOKEN, poll_until

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.pool import create_pool
from erpsync.models import SyncConfig
from erpsync.settings import DatabaseSettings, Settings, ShopifySettings, SyncSettings
from erpsync.shopify.client import close_shared_sessions
from erpsync.sync import SyncResult, run_sync

PRODUCTS_QUERY = """
query { products(first: 50) { nodes { id handle title status
  variants(first: 5) { nodes { id sku price inventoryQuantity } } } } }
"""
FIELDS = ["sku", "title", "price", "stock"]


class Shop(SimulatedShop):
    """The simulated shop as these tests see it: products by their first SKU, and the write counter."""

    async def products(self) -> dict[str, dict[str, Any]]:
        """Products by SKU of their first variant."""
        nodes = (await self.graphql(PRODUCTS_QUERY))["products"]["nodes"]
        return {node["variants"]["nodes"][0]["sku"]: node for node in nodes}

    async def writes(self) -> int:
        stats = await self.simulator.stats()
        names = ("productSet", "productDelete", "productVariantsBulkUpdate")
        return sum(stats["mutations"].get(name, 0) for name in names)


class Harness:
    """One config reading a CSV file; `sync()` runs the engine exactly as `erpsync sync` does."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool[Any], feed: Path, shop: Shop) -> None:
        self.settings = settings
        self.pool = pool
        self.feed = feed
        self.shop = shop

    def write_feed(self, rows: list[dict[str, Any]]) -> None:
        with self.feed.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    async def sync(self, **options: Any) -> SyncResult:
        return await run_sync(self.settings, self.pool, "acme", **options)

    async def tracked(self) -> dict[str, str]:
        rows = await self.pool.fetch(
            "SELECT product_key, shopify_product_id FROM product_states WHERE config_id = 'acme'"
        )
        return {row["product_key"]: row["shopify_product_id"] for row in rows}

    async def logs(self, level: str = "error") -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch("SELECT sku, message FROM sync_logs WHERE level = $1 ORDER BY id", level)
        )


def catalogue(count: int = 5, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {"sku": f"SKU-{n}", "title": f"Product {n}", "price": "10.00", "stock": n}
        for n in range(1, count + 1)
    ]
    for row in rows:
        row.update(changes.get(row["sku"], {}))
    return rows


@pytest.fixture
async def harness(settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path) -> Any:
    simulator = await start_shopify()
    sync_settings = settings.model_copy(
        update={
            "shopify": ShopifySettings(
                shop="acme.myshopify.com",
                base_url=simulator.base_url,
                access_token=SecretStr(SIM_TOKEN),
                poll_interval=0.02,
                retry_base_delay=0.01,
            ),
            "sync": SyncSettings(work_dir=tmp_path / "work", max_delete_fraction=0.2, file_root=tmp_path),
        }
    )
    feed = tmp_path / "products.csv"
    config = SyncConfig.model_validate(
        {
            "id": "acme",
            "name": "ACME",
            "connection_type": "file",
            "credentials": {"filePath": str(feed)},
            "format": "csv",
            "mapping": {
                "title": "title",
                "variant.sku": "sku",
                "variant.price": "price",
                "variant.inventory_quantity": "stock",
            },
        }
    )
    await insert_config(db, SecretBox(settings.security.secret_key), config)
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=5))
    try:
        yield Harness(sync_settings, pool, feed, Shop(simulator))
    finally:
        await close_shared_sessions()
        await pool.close()


async def test_first_sync_creates_second_writes_nothing(harness: Harness) -> None:
    """A first run creates every product; a second run over the same feed sends no mutation at all."""
    harness.write_feed(catalogue(5))
    first = await harness.sync()
    assert first.status == "succeeded", first
    assert first.counts["created"] == 5
    products = await harness.shop.products()
    assert sorted(products) == [f"SKU-{n}" for n in range(1, 6)]
    assert products["SKU-3"]["variants"]["nodes"][0]["price"] == "10.00"
    assert products["SKU-3"]["variants"]["nodes"][0]["inventoryQuantity"] == 3
    writes = await harness.shop.writes()

    second = await harness.sync()
    assert second.status == "unchanged", second  # the feed is the one synced: not even parsed
    assert await harness.shop.writes() == writes
    planned = await harness.sync(dry_run=True)  # planned in full, every product is unchanged
    assert planned.counts["unchanged"] == 5
    assert planned.counts["planned_create"] == planned.counts["planned_update"] == 0


async def test_changed_price_updates_only_that_product_in_place(harness: Harness) -> None:
    """Changing one price rewrites one product, keeping its product and variant ids."""
    harness.write_feed(catalogue(5))
    await harness.sync()
    before = await harness.shop.products()
    writes = await harness.shop.writes()
    harness.write_feed(catalogue(5, **{"SKU-2": {"price": "12.50"}}))
    result = await harness.sync()
    assert result.counts["updated"] == 1
    assert await harness.shop.writes() == writes + 1
    after = await harness.shop.products()
    assert after["SKU-2"]["variants"]["nodes"][0]["price"] == "12.50"
    assert after["SKU-2"]["id"] == before["SKU-2"]["id"]
    assert after["SKU-2"]["variants"]["nodes"][0]["id"] == before["SKU-2"]["variants"]["nodes"][0]["id"]


async def test_product_left_the_feed_is_deleted(harness: Harness) -> None:
    """A product that leaves the feed is deleted from the shop and no longer tracked."""
    harness.write_feed(catalogue(10))
    await harness.sync()
    harness.write_feed([row for row in catalogue(10) if row["sku"] != "SKU-4"])
    result = await harness.sync()
    assert result.status == "succeeded"
    assert result.counts["deleted"] == 1
    assert "SKU-4" not in await harness.shop.products()
    assert "SKU-4" not in await harness.tracked()


async def test_truncated_feed_deletes_nothing_and_asks_for_attention(harness: Harness) -> None:
    """A feed that lost most of its rows trips the guard: nothing deleted, one clear line, needs_attention;
    the explicit override then deletes."""
    harness.write_feed(catalogue(5))
    await harness.sync()
    harness.write_feed(catalogue(1))
    held = await harness.sync()
    assert held.status == "needs_attention"
    assert held.error == "would delete 4 of 5 products (80%) > 20%"
    assert len(await harness.shop.products()) == 5
    forced = await harness.sync(allow_mass_delete=True)
    assert forced.status == "succeeded"
    assert forced.counts["deleted"] == 4
    assert sorted(await harness.shop.products()) == ["SKU-1"]


async def test_rejected_row_is_not_deleted(harness: Harness) -> None:
    """A typo in a price rejects the row and logs it, but never deletes the product it describes."""
    harness.write_feed(catalogue(5))
    await harness.sync()
    harness.write_feed(catalogue(5, **{"SKU-3": {"price": "1O.00"}}))
    result = await harness.sync()
    assert result.counts["rows_rejected"] == 1
    assert result.counts["deleted"] == 0
    assert "SKU-3" in await harness.shop.products()
    warnings = await harness.logs("warning")
    assert any(row["sku"] == "SKU-3" and "price" in row["message"] for row in warnings)


async def test_existing_sku_is_adopted_not_duplicated(harness: Harness) -> None:
    """A product made by hand with a feed SKU is adopted and updated; the shop never holds two. The new
    SKUs are found by one SKU search, not by an export of the shop."""
    await harness.shop.graphql(
        "mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { message } } }",
        {
            "input": {
                "title": "Hand made",
                "handle": "hand-made",
                "status": "ACTIVE",
                "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                "variants": [
                    {
                        "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                        "sku": "SKU-1",
                        "price": "1.00",
                    }
                ],
            }
        },
    )
    harness.write_feed(catalogue(2))
    before = await harness.shop.simulator.stats()
    result = await harness.sync()
    assert result.counts["adopted"] == 1
    after = await harness.shop.simulator.stats()
    assert after["searches"].get("productVariants", 0) - before["searches"].get("productVariants", 0) == 1
    # One bulk query: the adopted product read by id before it is updated; none exports the shop.
    assert after["bulk_operations"]["QUERY"] - before["bulk_operations"]["QUERY"] == 1
    products = await harness.shop.products()
    assert len(products) == 2
    assert products["SKU-1"]["handle"] == "hand-made"
    assert products["SKU-1"]["title"] == "Product 1"
    assert products["SKU-1"]["variants"]["nodes"][0]["price"] == "10.00"


async def test_user_error_is_logged_against_the_sku_and_retried(harness: Harness) -> None:
    """A SKU Shopify refuses makes the run partial with the message logged; the next run retries it."""
    await harness.shop.simulator.faults(sku_errors={"SKU-2": "Price must be positive"})
    harness.write_feed(catalogue(3))
    result = await harness.sync()
    assert result.status == "partial"
    assert result.counts["failed"] == 1
    assert result.counts["created"] == 2
    errors = await harness.logs("error")
    assert errors[0]["sku"] == "SKU-2"
    assert "Price must be positive" in errors[0]["message"]
    await harness.shop.simulator.faults(clear=True)
    retry = await harness.sync()
    assert retry.status == "succeeded"
    assert retry.counts["created"] == 1
    assert retry.counts["unchanged"] == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "no such file"), ('sku,title\n\x00\x01garbage"', "")],
    ids=["missing-file", "unreadable"],
)
async def test_fatal_feed_error_writes_nothing(harness: Harness, content: str | None, reason: str) -> None:
    """An unusable feed fails the run with the reason and sends no mutation."""
    if content is not None:
        harness.feed.write_text(content)
    result = await harness.sync()
    assert result.status == "failed"
    assert result.error
    assert reason.lower() in result.error.lower()
    assert await harness.shop.writes() == 0


async def test_missing_sku_column_fails_before_writing(harness: Harness) -> None:
    """A header without the SKU column is fatal: the run fails naming it, and Shopify is not touched."""
    harness.feed.write_text("code,title,price,stock\nA,B,1.00,1\n")
    result = await harness.sync()
    assert result.status == "failed"
    assert "sku" in (result.error or "").lower()
    assert await harness.shop.writes() == 0


async def test_dry_run_shows_the_plan_and_writes_nothing(harness: Harness) -> None:
    """A dry run lists creates, updates with before/after, and deletions, and writes nothing anywhere."""
    harness.write_feed(catalogue(10))
    await harness.sync()
    writes = await harness.shop.writes()
    runs_before = await harness.pool.fetchval("SELECT count(*) FROM sync_runs")
    harness.write_feed(
        [row for row in catalogue(11, **{"SKU-2": {"price": "11.00"}}) if row["sku"] != "SKU-5"]
    )
    result = await harness.sync(dry_run=True)
    assert result.status == "dry_run"
    assert result.plan is not None
    assert (result.plan["create"], result.plan["update"], result.plan["delete"]) == (1, 1, 1)
    details = result.details or {}
    assert [item["product_key"] for item in details["products"]["create"]] == ["SKU-11"]
    (update,) = details["updates"]
    assert {"field": "variants[SKU-2].price", "before": "10.00", "after": "11.00"} in update["changes"]
    assert await harness.shop.writes() == writes
    assert await harness.pool.fetchval("SELECT count(*) FROM sync_runs") == runs_before
    assert "SKU-5" in await harness.tracked()


@pytest.mark.parametrize(("policy", "status"), [("archive", "ARCHIVED"), ("draft", "DRAFT")])
async def test_archive_and_draft_policies_keep_the_product(
    harness: Harness, policy: str, status: str
) -> None:
    """With delete_policy archive/draft a product that left the feed is kept in the shop with that status,
    and is made active again when it comes back."""
    await harness.pool.execute(
        "UPDATE product_sync_configs SET config = jsonb_set(config, '{delete_policy}', to_jsonb($1::text))",
        policy,
    )
    harness.write_feed(catalogue(10))
    await harness.sync()
    harness.write_feed([row for row in catalogue(10) if row["sku"] != "SKU-6"])
    result = await harness.sync()
    assert result.counts["deleted"] == 1
    assert (await harness.shop.products())["SKU-6"]["status"] == status
    harness.write_feed(catalogue(10))
    back = await harness.sync()
    assert back.counts["updated"] == 1
    assert (await harness.shop.products())["SKU-6"]["status"] == "ACTIVE"


async def test_products_this_config_does_not_own_are_never_deleted(harness: Harness) -> None:
    """A product made by hand whose SKU is not in the feed is left alone, however the feed changes."""
    await harness.shop.graphql(
        "mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { message } } }",
        {
            "input": {
                "title": "Not ours",
                "handle": "not-ours",
                "status": "ACTIVE",
                "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                "variants": [
                    {
                        "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                        "sku": "HAND-1",
                        "price": "1.00",
                    }
                ],
            }
        },
    )
    harness.write_feed(catalogue(5))
    await harness.sync()
    harness.write_feed(catalogue(5)[1:])
    result = await harness.sync()
    assert result.counts["deleted"] == 1
    products = await harness.shop.products()
    assert "HAND-1" in products
    assert "SKU-1" not in products


async def test_feed_outside_file_root_fails_and_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    """A config pointed at a file outside [sync] file_root fails with the reason; Shopify sees nothing."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside.csv"
    outside.write_text("sku,title,price,stock\nX,Y,1.00,1\n")
    await harness.pool.execute(
        "UPDATE product_sync_configs SET config = jsonb_set(config, '{credentials,filePath}', to_jsonb($1::text))",
        str(outside),
    )
    result = await harness.sync()
    assert result.status == "failed"
    assert "outside the allowed directory" in (result.error or "")
    assert await harness.shop.writes() == 0
    outside.unlink()


async def test_a_bad_hour_at_shopify_converges(harness: Harness) -> None:
    """A third of Shopify's answers are 5xx or 429: runs retry what is safe and fail what is not, and the
    next runs converge to exactly the feed, with no product created twice."""
    await harness.shop.simulator.faults(fail_ratio=0.33, fail_seconds=60)
    harness.write_feed(catalogue(20))
    statuses = []
    for _ in range(8):
        result = await harness.sync()
        statuses.append(result.status)
        if result.status == "succeeded":
            break
    assert statuses[-1] == "succeeded", statuses
    await harness.shop.simulator.faults(clear=True)
    products = await harness.shop.products()
    assert sorted(products) == sorted(f"SKU-{n}" for n in range(1, 21))
    assert len(await harness.tracked()) == 20
    assert (await harness.sync()).status == "unchanged"
    assert (await harness.sync(dry_run=True)).counts["unchanged"] == 20


async def test_progress_shows_while_a_slow_feed_streams_in(harness: Harness) -> None:
    """A watcher sees the rows read so far while the feed is still arriving, and the run then completes.

    The feed is a named pipe: the first 1,500 rows (more than one read block) are written, then the
    writer waits until the run's progress shows rows before it sends the rest.
    """
    os.mkfifo(harness.feed)
    rows = [{**row, "title": f"{row['title']} {'x' * 200}"} for row in catalogue(2_000)]
    head, tail = io.StringIO(), io.StringIO()
    csv.DictWriter(head, fieldnames=FIELDS).writeheader()
    csv.DictWriter(head, fieldnames=FIELDS).writerows(rows[:1_500])
    csv.DictWriter(tail, fieldnames=FIELDS).writerows(rows[1_500:])
    run = asyncio.create_task(harness.sync())
    pipe = await asyncio.to_thread(open, harness.feed, "w", encoding="utf-8", newline="")
    try:
        await asyncio.to_thread(pipe.write, head.getvalue())
        await asyncio.to_thread(pipe.flush)
        shown: dict[str, Any] = {}

        async def rows_shown() -> bool:
            row = await harness.pool.fetchrow(
                "SELECT status, progress FROM sync_runs ORDER BY id DESC LIMIT 1"
            )
            if row is not None:
                shown.update(status=row["status"], **(row["progress"] or {}))
            return bool(shown.get("rows_read"))

        await poll_until(rows_shown, seconds=20)
        assert shown["status"] == "running"
        assert 0 < shown["rows_read"] <= 1_500
        assert not run.done()
        await asyncio.to_thread(pipe.write, tail.getvalue())
    finally:
        await asyncio.to_thread(pipe.close)
    result = await run
    assert result.status == "succeeded", result
    assert result.counts["rows_read"] == 2_000
    assert result.counts["created"] == 2_000
