"""Run outcomes a merchant can trust: rejected rows make a run partial, a feed with no product fails
without touching the shop, every rejected product is named; `erpsync sync` exits as the run ended."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from shop_support import ConfigFeed, MakeFeed, flat_rows
from support import API_TOKEN, erpsync_awaited, erpsync_env

from erpsync.api.app import init_app
from erpsync.settings import Settings


async def shop_state(feed: ConfigFeed) -> list[tuple[str, str, str]]:
    """Every product of the shop as (id, SKU, price): what a merchant would see changed."""
    return [
        (product["id"], variant["sku"], variant["price"])
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    ]


async def test_rejected_rows_make_the_run_partial_and_are_named(make_feed: MakeFeed) -> None:
    """One bad price: the other products are written, the run is `partial`, and the rejected product is
    named by key and SKU with its error in the result, `GET /runs/{id}` and the logs."""
    feed = await make_feed()
    rows = flat_rows(4)
    rows[2]["price"] = "1O.00"
    feed.write(rows)
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["created"] == 3
    [rejected] = result.counts["rejected_products"]
    assert rejected["key"] == "SKU-3"
    assert rejected["skus"] == ["SKU-3"]
    assert "acme.csv" in rejected["error"]
    assert "row 4" in rejected["error"]  # the header is row 1
    assert "SKU 'SKU-3', variant.price" in rejected["error"]
    assert result.counts["rejected_products_more"] == 0
    server = TestServer(init_app(feed.configs.settings), host="127.0.0.1")
    async with TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"}) as client:
        stored = await (await client.get(f"/runs/{result.run_id}")).json()
    assert stored["status"] == "partial"
    assert stored["counts"]["rejected_products"] == [rejected]
    messages = [row["message"] for row in await feed.logs("warning")]
    assert any(message.startswith("product 'SKU-3' (SKU SKU-3) rejected") for message in messages), messages
    assert sorted(sku for _, sku, _ in await shop_state(feed)) == ["SKU-1", "SKU-2", "SKU-4"]


async def test_every_row_rejected_fails_and_touches_nothing(make_feed: MakeFeed) -> None:
    """A feed whose every row is rejected (a broken export) fails with the reason in one line; the shop
    keeps every product as it was: nothing created, updated or deleted, even with --allow-mass-delete."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    assert (await feed.sync()).status == "succeeded"
    before = await shop_state(feed)
    broken = flat_rows(3, price="12.00")
    for row in broken:
        row["price"] = "n/a"
    broken.append({"sku": "NEW-1", "title": "New", "price": "oops", "stock": 1})
    feed.write(broken)
    for options in ({}, {"allow_mass_delete": True}):
        result = await feed.sync(**options)
        assert result.status == "failed", result
        assert result.error is not None
        assert "\n" not in result.error
        assert result.error.startswith("every one of the 4 rows was rejected (first: acme.csv ")
        assert "row 2), SKU 'SKU-1', variant.price" in result.error or "row 2, SKU 'SKU-1'" in result.error
        assert "nothing was written or deleted" in result.error
        assert await shop_state(feed) == before
    errors = [row["message"] for row in await feed.logs("error")]
    assert any(message.startswith("sync failed: every one of the 4 rows") for message in errors)


@pytest.mark.parametrize("text", ["sku,title,price,stock\n", ""], ids=["header-only", "empty-file"])
async def test_feed_with_no_product_fails_and_deletes_nothing(make_feed: MakeFeed, text: str) -> None:
    """An empty feed fails (`the feed gave no product (0 rows)`) and never empties the catalogue."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    await feed.sync()
    before = await shop_state(feed)
    feed.write_text(text)
    result = await feed.sync(allow_mass_delete=True)
    assert result.status == "failed", result
    assert result.error is not None
    assert result.error.startswith("the feed gave no product (0 rows)"), result.error
    assert await shop_state(feed) == before


async def test_mapped_path_in_no_record_is_a_warning(make_feed: MakeFeed) -> None:
    """A mapped key no record has (a typo in the mapping) is named in the run's result and its logs; the
    products are written all the same."""
    feed = await make_feed(format="jsonl")
    await feed.change(mapping={**feed.config.mapping, "vendor": "brand"})
    feed.write_text("".join(orjson.dumps(row).decode() + "\n" for row in flat_rows(2)))
    result = await feed.sync()
    assert result.counts["created"] == 2, result
    warning = "the mapped path 'brand' (mapped to vendor) is in no record of the feed"
    assert result.counts["warnings"] == [warning]
    assert warning in [row["message"] for row in await feed.logs("warning")]


async def test_sync_exit_status_follows_the_run(
    make_feed: MakeFeed, settings: Settings, tmp_path: Path
) -> None:
    """`erpsync sync` exits 0 succeeded, 3 partial, 2 needs attention, 1 failed — as `--help` lists them,
    with the sysexits codes beside them (a usage error is 64, not click's 2, which means "held")."""
    feed = await make_feed()
    simulator_url = feed.configs.settings.shopify.base_url
    env = erpsync_env(settings, tmp_path, shop_url=simulator_url, ERPSYNC_SYNC__MAX_DELETE_FRACTION="0.2")
    help_text = (await erpsync_awaited(env, "sync", "--help")).stdout
    for line in ("0  succeeded", "1  failed", "2  needs attention", "3  partial", "64  usage error",
                 "66  no sync config", "69  PostgreSQL cannot be reached", "75  the config is syncing"):  # fmt: skip
        assert line in help_text, help_text
    assert (await erpsync_awaited(env, "sync")).returncode == 64

    feed.write(flat_rows(5))
    done = await erpsync_awaited(env, "sync", "acme")
    assert (done.returncode, done.stdout.splitlines()[0].endswith(": succeeded")) == (0, True), done
    rows = flat_rows(5)
    rows[1]["price"] = "bad"
    feed.write(rows)
    partial = await erpsync_awaited(env, "sync", "acme")
    assert partial.returncode == 3, partial
    assert "rejected products (1, not written):" in partial.stdout
    assert "    SKU-2 (SKU SKU-2): acme.csv " in partial.stdout
    feed.write(flat_rows(1))
    preview = await erpsync_awaited(env, "sync", "acme", "--dry-run")
    assert "deletes_allowed" not in preview.stdout, preview.stdout
    assert "  deletes held back: would delete 4 of 5 products (80%) > 20%" in preview.stdout, preview.stdout
    held = await erpsync_awaited(env, "sync", "acme")
    assert held.returncode == 2, held
    feed.write_text("sku,title,price,stock\n")
    failed = await erpsync_awaited(env, "sync", "acme")
    assert failed.returncode == 1, failed
    assert "reason: the feed gave no product (0 rows)" in failed.stdout
    dry = await erpsync_awaited(env, "sync", "acme", "--dry-run")
    assert dry.returncode == 1, dry  # a dry run that fails says so too
    assert len(await shop_state(feed)) == 5
