"""Store limits a merchant meets: the daily variant creation cap (creates what the shop allows, the rest on
the following days, said in the run's status and counts) and the documented input limits (a product past
one is named and not sent; the others are)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from shop_support import ConfigFeed, MakeFeed, flat_rows
from test_shopify_bulk import Recorder, write_files

from erpsync.limits import product_problems
from erpsync.mapping.drafts import MetafieldDraft, ProductDraft, VariantDraft
from erpsync.shopify import documents
from erpsync.shopify.bulk import run_file
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.throttle import Throttle
from erpsync.variant_cap import is_daily_variant_cap

CAP = {"variant_cap_threshold": 3, "variant_cap_per_day": 2}


async def shop_skus(feed: ConfigFeed) -> list[str]:
    """Every SKU of the shop, once per variant: a duplicate product shows as a SKU listed twice."""
    return sorted(
        variant["sku"]
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    )


async def test_simulator_refuses_creates_past_the_daily_cap_with_shopifys_message(
    start_shopify: Any, tmp_path: Path
) -> None:
    """A shop below Plus holding 3 variants (the test's threshold) creates 2 more that day (the test's cap);
    each line past it gets Shopify's message and a null payload, and nothing of it is created."""
    shopify = await start_shopify(**CAP, bulk_shuffle_lines=False)
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(7)]
    (file,) = write_files(tmp_path, skus)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        await run_file(
            client,
            documents.PRODUCT_SET_BULK,
            file,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    refused = [outcome for outcome in recorder.outcomes.values() if outcome.status != "ok"]
    assert sorted(outcome.key for outcome in refused) == ["SKU-5", "SKU-6"]
    assert all(outcome.status == "errors" and outcome.payload is None for outcome in refused)
    assert all(is_daily_variant_cap(outcome.errors) for outcome in refused)
    assert refused[0].message == "Daily variant creation limit reached. Please try again later."
    products = await shopify.admin("GET", "/_simulator/stats")
    assert products["mutations"]["productSet"] == 7


async def test_plus_shop_has_no_daily_cap(make_feed: MakeFeed) -> None:
    """On Plus the same catalogue is created whole in one run."""
    feed = await make_feed(options={**CAP, "plan": "plus"})
    feed.write(flat_rows(7))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["created"] == 7
    assert "deferred_products" not in result.counts


async def test_run_meeting_the_cap_defers_creates_and_goes_on_with_updates_and_deletes(
    make_feed: MakeFeed,
) -> None:
    """Day 1: 5 of 7 products are created, 2 wait; the run is partial and says when the catalogue should be
    complete. Day 1 again: a price change and a removal go through; the 2 are held back unsent (each would
    only be refused again) and still counted as waiting. Day 2: the 2 are created; each SKU is in the shop
    once."""
    feed = await make_feed(options=CAP, sync={"daily_variant_cap": 1})
    simulator = feed.configs.shop.simulator
    rows = flat_rows(7)
    feed.write(rows)
    first = await feed.sync()
    assert first.status == "partial", first
    assert first.counts["created"] == 5
    assert first.counts["deferred_products"] == 2
    assert first.counts["deferred_variants"] == 2
    assert first.counts["failed"] == 0
    assert (await simulator.stats())["mutations"]["productSet"] == 7  # the capped 2 not retried in the run
    today = datetime.datetime.now(datetime.UTC).date()
    assert first.counts["catalogue_complete_estimate"] == (today + datetime.timedelta(days=2)).isoformat()
    assert first.error is not None
    assert "daily variant creation limit" in first.error
    assert "2 products" in first.error
    assert len(await shop_skus(feed)) == 5
    warnings = [row["message"] for row in await feed.logs("warning")]
    assert sum("daily variant creation limit was reached" in message for message in warnings) == 1
    # The capped products are the shop's limit, not an error of theirs: warnings, not errors.
    assert not [row for row in await feed.logs("error") if "limit" in row["message"].lower()]

    created = set(await shop_skus(feed))
    waiting = sorted({row["sku"] for row in rows} - created)
    kept = [row for row in rows if row["sku"] != sorted(created)[0]]  # one product leaves the feed
    changed = next(row for row in kept if row["sku"] in created)
    changed["price"] = "12.50"
    feed.write(kept)
    before = await simulator.stats()
    second = await feed.sync(allow_mass_delete=True)
    after = await simulator.stats()
    sent = after["mutations"].get("productSet", 0) - before["mutations"].get("productSet", 0)
    assert after["mutations"]["productVariantsBulkUpdate"] == 1  # the update: its price alone
    assert second.status == "partial", second
    assert second.counts["updated"] == 1
    assert second.counts["deleted"] == 1
    assert second.counts["deferred_products"] == 2
    assert sent == 0  # no productSet: the waiting products are not sent again the same day
    assert len(waiting) == 2
    assert second.counts["created"] == 0
    prices = {
        variant["sku"]: variant["price"]
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    }
    assert prices[changed["sku"]] == "12.50"

    # The next day, for the shop and for erpsync's record of when the cap was met.
    await simulator.faults(advance_variant_day=1)
    await feed.configs.pool.execute(
        "UPDATE sync_runs SET finished_at = finished_at - interval '1 day' WHERE config_id = $1", feed.id
    )
    third = await feed.sync()
    assert third.status == "succeeded", third
    assert third.counts["created"] == 2
    assert await shop_skus(feed) == sorted(row["sku"] for row in kept)


# --- input limits --------------------------------------------------------------------------------------


def draft(
    *,
    title: str = "Tee",
    handle: str | None = None,
    tags: tuple[str, ...] = (),
    skus: tuple[str, ...] = ("SKU-1",),
    option_value: str = "Default Title",
    metafields: tuple[MetafieldDraft, ...] = (),
    variant_metafields: tuple[MetafieldDraft, ...] = (),
) -> ProductDraft:
    variants = tuple(
        VariantDraft(
            sku, "9.90", None, None, None, None, None, (option_value,), None, None, variant_metafields, row
        )
        for row, sku in enumerate(skus, start=2)
    )
    return ProductDraft(
        "KEY-1", title, None, None, None, None, handle, None, None, tags, (), ("Title",), variants, metafields
    )


def text_metafield(size: int, kind: str = "single_line_text_field") -> MetafieldDraft:
    return MetafieldDraft("custom", "spec", kind, "x" * size)


def json_metafield(size: int) -> MetafieldDraft:
    return MetafieldDraft("custom", "spec", "json", '{"a":"' + "x" * (size - 8) + '"}')


@pytest.mark.parametrize(
    ("product", "api_version", "field"),
    [
        (draft(title="t" * 255), "2026-10", None),
        (draft(title="t" * 256), "2026-10", "title"),
        (draft(handle="h" * 256), "2026-10", "handle"),
        (draft(tags=tuple(f"tag-{n}" for n in range(250))), "2026-10", None),
        (draft(tags=tuple(f"tag-{n}" for n in range(251))), "2026-10", "tags"),
        (draft(tags=("t" * 256,)), "2026-10", "tags"),
        (draft(skus=("S" * 256,)), "2026-10", "variant.sku"),
        (draft(option_value="v" * 256), "2026-10", "variant.option1"),
        (draft(skus=tuple(f"S-{n}" for n in range(2049))), "2026-10", "variants"),
        (draft(metafields=(text_metafield(65_536),)), "2026-10", None),
        (draft(metafields=(text_metafield(65_537),)), "2026-10", "metafield custom.spec"),
        (draft(metafields=(text_metafield(2_049, "url"),)), "2026-10", "metafield custom.spec"),
        (draft(metafields=(json_metafield(128 * 1024),)), "2026-04", None),
        (draft(metafields=(json_metafield(128 * 1024 + 1),)), "2026-04", "metafield custom.spec"),
        (draft(metafields=(json_metafield(128 * 1024 + 1),)), "2026-01", None),
        (draft(variant_metafields=(text_metafield(70_000),)), "2026-10", "variant metafield custom.spec"),
    ],
)
def test_input_limits(product: ProductDraft, api_version: str, field: str | None) -> None:
    """Each documented limit: a value at the limit passes, one past it names the field (and its SKU)."""
    problems = list(product_problems(product, api_version))
    assert [name for _, name, _ in problems][:1] == ([field] if field else [])
    if field:
        assert problems[0][0] is not None  # a SKU to look for


async def test_product_past_a_limit_is_named_and_not_sent(make_feed: MakeFeed) -> None:
    """A 256-character title: that product is rejected before any write, named by SKU and field; the
    other three are created; the run is partial."""
    feed = await make_feed()
    rows = flat_rows(4)
    rows[1]["title"] = "T" * 256
    feed.write(rows)
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["created"] == 3
    [rejected] = result.counts["rejected_products"]
    assert rejected["key"] == "SKU-2"
    assert "SKU 'SKU-2', title: at most 255 characters" in rejected["error"]
    assert await shop_skus(feed) == ["SKU-1", "SKU-3", "SKU-4"]
    assert await feed.configs.shop.mutations("productSet") == 3


async def test_metafield_past_the_size_cap_holds_its_product_and_leaves_it_in_the_shop(
    make_feed: MakeFeed,
) -> None:
    """A tracked product whose metafield value grows past 64 KB is not sent (its old value stays in the shop)
    and not deleted; its SKU and metafield are named; the other products are updated."""
    feed = await make_feed(
        metafield_mappings=[
            {
                "sourceKey": "spec",
                "metafieldNamespace": "custom",
                "metafieldKey": "spec",
                "metafieldType": "multi_line_text_field",
            }
        ]
    )
    feed.fields = [*feed.fields, "spec"]
    rows = [{**row, "spec": "short"} for row in flat_rows(3)]
    feed.write(rows)
    first = await feed.sync()
    assert first.status == "succeeded", first
    rows = [{**row, "price": "11.00"} for row in rows]
    rows[0]["spec"] = "x" * 70_000
    feed.write(rows)
    second = await feed.sync()
    assert second.status == "partial", second
    assert second.counts["updated"] == 2
    assert second.counts.get("deleted", 0) == 0
    [rejected] = second.counts["rejected_products"]
    assert "SKU 'SKU-1', metafield custom.spec" in rejected["error"]
    assert "65,536 bytes" in rejected["error"]
    prices = {
        variant["sku"]: variant["price"]
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    }
    assert prices == {"SKU-1": "10.00", "SKU-2": "11.00", "SKU-3": "11.00"}
