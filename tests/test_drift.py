"""Drift every run (issue 18, acceptance 1 and 5): what a merchant changes in the shop by hand is seen by
the next run and settled by the config's `drift_policy` — written back (`overwrite`), kept until the feed
changes it (`keep`) or reported (`report`) — and what the config does not map or own is never touched.
Whole runs against PostgreSQL and the simulator, the shop read afterwards."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from shop_support import ConfigFeed, MakeFeed, flat_rows, grouped_rows

from erpsync.db.changes import run_changes

Client = TestClient[Any, Any]
PRICE_EDIT = (
    "mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v) "
    "{ userErrors { message } } }"
)
PRODUCT_EDIT = "mutation($p: ProductUpdateInput!) { productUpdate(product: $p) { userErrors { message } } }"
PRODUCT_DELETE = "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }"
PRODUCT_FIELDS = "query($id: ID!) { product(id: $id) { title vendor updatedAt variants(first: 5) { nodes { sku price } } } }"


def aged(feed: ConfigFeed) -> None:
    """The feed file written a minute ago: the next run knows it unchanged by its stat alone."""
    then = time.time() - 60
    os.utime(feed.path, (then, then))


async def first_sync(feed: ConfigFeed, rows: list[dict[str, Any]]) -> None:
    """The products written, then the next second of the shop's clock: Shopify's `updatedAt` is to the
    second, and an edit made within the second of erpsync's write looks like no edit to the check (the
    reconcile compares every product whatever its time)."""
    feed.write(rows)
    aged(feed)
    result = await feed.sync()
    assert result.status == "succeeded", result
    await next_second()


async def next_second() -> None:
    """Wait for the next second of the clock the shop's `updatedAt` is kept to."""
    await asyncio.sleep(1.0 - time.time() % 1.0 + 0.01)


async def holder(feed: ConfigFeed, sku: str) -> dict[str, Any]:
    """The one shop product holding `sku` (the test fails if two do)."""
    [product] = (await feed.configs.shop.by_sku())[sku]
    return product


async def edit_price(feed: ConfigFeed, sku: str, price: str) -> None:
    product = await holder(feed, sku)
    variant = next(v for v in product["variants"]["nodes"] if v["sku"] == sku)
    data = await feed.configs.shop.graphql(
        PRICE_EDIT, {"p": product["id"], "v": [{"id": variant["id"], "price": price}]}
    )
    assert data["productVariantsBulkUpdate"]["userErrors"] == []


async def edit_product(feed: ConfigFeed, sku: str, **fields: Any) -> None:
    product = await holder(feed, sku)
    data = await feed.configs.shop.graphql(PRODUCT_EDIT, {"p": {"id": product["id"], **fields}})
    assert data["productUpdate"]["userErrors"] == []


async def fields_of(feed: ConfigFeed, sku: str) -> dict[str, Any]:
    product = await holder(feed, sku)
    data = await feed.configs.shop.graphql(PRODUCT_FIELDS, {"id": product["id"]})
    fields: dict[str, Any] = data["product"]
    return fields


async def prices(feed: ConfigFeed) -> dict[str, str]:
    return {
        sku: products[0]["variants"]["nodes"][0]["price"]
        for sku, products in (await feed.configs.shop.by_sku()).items()
    }


@pytest.mark.parametrize("lookup_limit", [200, 0], ids=["paginated", "by-export"])
async def test_a_price_edited_by_hand_is_written_back_by_a_variant_update(
    make_feed: MakeFeed, api_for: Any, lookup_limit: int
) -> None:
    """`overwrite` (the default): the feed did not change, yet the next run writes the price back — as one
    variant update of that price, no productSet — journals the drift (ours → the shop's) beside the
    write, and the run after that ends `unchanged` with nothing open. The updated products are read by a
    paginated query, or (past `sku_lookup_limit`) by a bulk export."""
    feed = await make_feed(sync={"sku_lookup_limit": lookup_limit})
    await first_sync(feed, flat_rows(3))
    await edit_price(feed, "SKU-2", "99.00")
    sets = await feed.configs.shop.mutations("productSet")
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert (result.counts["drift"]["fields"], result.counts["drift"]["written_back"]) == (1, 1)
    assert await prices(feed) == {"SKU-1": "10.00", "SKU-2": "10.00", "SKU-3": "10.00"}
    assert await feed.configs.shop.mutations("productSet") == sets
    assert await feed.configs.shop.mutations("productVariantsBulkUpdate") == 2  # the edit, the write back
    journal = {(c.action, c.result): c for c in await run_changes(feed.configs.pool, result.run_id)}
    drift = journal["drift", "ok"]
    assert drift.skus == ["SKU-2"]
    assert drift.changes == [{"field": "variants[SKU-2].price", "before": "10.00", "after": "99.00"}]
    assert journal["update", "ok"].changes == [
        {"field": "variants[SKU-2].price", "before": "99.00", "after": "10.00"}
    ]
    client = await api_for(feed)
    assert (await (await client.get("/configs/acme/drift")).json())["findings"] == []
    [settled] = (await (await client.get("/configs/acme/drift", params={"state": "all"})).json())["findings"]
    assert (settled["field"], settled["ours"], settled["theirs"]) == (
        "variants[SKU-2].price",
        "10.00",
        "99.00",
    )
    assert (settled["action"], settled["state"], settled["settled_how"]) == (
        "written back",
        "settled",
        "written back",
    )
    again = await feed.sync()
    assert again.status == "unchanged", again
    assert again.counts["drift"]["drifted"] == 0


async def test_a_write_back_the_shop_refuses_stays_open_and_is_sent_again(
    make_feed: MakeFeed, api_for: Any
) -> None:
    """A write back refused by the shop leaves its finding open (journalled `failed`) and the run partial;
    the next run sends it again and settles it."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(2))
    await edit_price(feed, "SKU-1", "3.00")
    await feed.configs.shop.simulator.faults(sku_errors={"SKU-1": "Price is locked"})
    refused = await feed.sync()
    assert refused.status == "partial", refused
    assert await prices(feed) == {"SKU-1": "3.00", "SKU-2": "10.00"}
    drift = [c for c in await run_changes(feed.configs.pool, refused.run_id) if c.action == "drift"]
    assert [(c.skus, c.result) for c in drift] == [(["SKU-1"], "failed")]
    client = await api_for(feed)
    [still] = (await (await client.get("/configs/acme/drift")).json())["findings"]
    assert (still["field"], still["action"], still["state"]) == (
        "variants[SKU-1].price",
        "written back",
        "open",
    )
    await feed.configs.shop.simulator.faults(sku_errors={})
    again = await feed.sync()
    assert again.status == "succeeded", again
    assert await prices(feed) == {"SKU-1": "10.00", "SKU-2": "10.00"}
    assert (await (await client.get("/configs/acme/drift")).json())["findings"] == []


async def test_a_value_the_shop_answers_again_after_a_write_back_is_not_written_every_run(
    make_feed: MakeFeed,
) -> None:
    """A write back the shop answers, by the next run, with the very value it held before (as Shopify
    normalising a description would, or an app that sets it again) is taken as the shop's form of
    erpsync's value: written back once, then not again run after run."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(1))
    await edit_price(feed, "SKU-1", "9.99")
    assert (await feed.sync()).counts["drift"]["written_back"] == 1
    await next_second()
    await edit_price(feed, "SKU-1", "9.99")
    again = await feed.sync()
    assert again.status == "unchanged", again
    assert (again.counts["drift"]["shops_form"], again.counts["drift"]["written_back"]) == (1, 0)
    assert await prices(feed) == {"SKU-1": "9.99"}
    assert (await feed.sync()).counts["drift"]["drifted"] == 0


async def test_report_writes_nothing_and_shows_what_is_open(make_feed: MakeFeed, api_for: Any) -> None:
    """`report`: the hand-edited price stays, the run ends `unchanged`, and `GET /configs/{id}/drift` and
    `/metrics` show the finding; once the merchant sets the price back it is settled."""
    feed = await make_feed(drift_policy="report")
    await first_sync(feed, flat_rows(2))
    await edit_price(feed, "SKU-1", "7.50")
    result = await feed.sync()
    assert result.status == "unchanged", result
    assert (result.counts["drift"]["reported"], result.counts["drift"]["to_write"]) == (1, 0)
    assert await prices(feed) == {"SKU-1": "7.50", "SKU-2": "10.00"}
    client = await api_for(feed)
    [open_] = (await (await client.get("/configs/acme/drift")).json())["findings"]
    assert (open_["kind"], open_["field"], open_["ours"], open_["theirs"]) == (
        "field",
        "variants[SKU-1].price",
        "10.00",
        "7.50",
    )
    assert (open_["policy"], open_["action"], open_["state"]) == ("report", "reported", "open")
    assert open_["seen_run_id"] == result.run_id
    metrics = await (await client.get("/metrics")).text()
    assert 'erpsync_drift_open{config_id="acme",shop="acme.myshopify.com"} 1.0' in metrics
    assert (await client.get("/configs/nobody/drift")).status == 404
    bad = await client.get("/configs/acme/drift", params={"state": "closed"})
    assert (bad.status, (await bad.json())["error"]["code"]) == (422, "invalid_query")
    [journalled] = await run_changes(feed.configs.pool, result.run_id)
    assert (journalled.action, journalled.result) == ("drift", "skipped")
    await next_second()
    await edit_price(feed, "SKU-1", "10.00")
    assert (await feed.sync()).counts["drift"]["settled"] == 1
    assert (await (await client.get("/configs/acme/drift")).json())["findings"] == []


async def test_keep_holds_the_merchants_title_until_the_feed_changes_it(make_feed: MakeFeed) -> None:
    """`keep`: a title edited by hand survives the run that finds it and a later write of the product
    (even as a whole productSet); when the feed's title itself changes, the feed's new title is written."""
    feed = await make_feed(drift_policy="keep", sync={"lightest_writes": False})
    await first_sync(feed, flat_rows(2))
    await edit_product(feed, "SKU-1", title="Merchant's title")
    found = await feed.sync()
    assert found.status == "unchanged", found
    assert found.counts["drift"]["kept"] == 1
    rows = flat_rows(2, price="12.00")
    feed.write(rows)
    written = await feed.sync()
    assert written.status == "succeeded", written
    assert await feed.configs.shop.mutations("productSet") == 4  # 2 creates, 2 whole rewrites
    assert (await fields_of(feed, "SKU-1"))["title"] == "Merchant's title"
    assert (await fields_of(feed, "SKU-2"))["title"] == "Product 2"
    assert await prices(feed) == {"SKU-1": "12.00", "SKU-2": "12.00"}
    rows[0]["title"] = "The ERP's new title"
    feed.write(rows)
    assert (await feed.sync()).status == "succeeded"
    assert (await fields_of(feed, "SKU-1"))["title"] == "The ERP's new title"
    state = await feed.configs.pool.fetchval("SELECT state || ': ' || settled_how FROM drift_findings")
    assert state == "settled: the feed's value written"


@pytest.mark.parametrize("policy", ["overwrite", "keep", "report"])
async def test_a_field_the_config_does_not_map_is_never_touched(make_feed: MakeFeed, policy: str) -> None:
    """A vendor set by hand (the config maps no vendor) is no drift under any policy and survives every
    later run, an unchanged one and one that rewrites the product."""
    feed = await make_feed(drift_policy=policy)
    await first_sync(feed, flat_rows(2))
    await edit_product(feed, "SKU-1", vendor="Hand-picked vendor")
    unchanged = await feed.sync()
    assert unchanged.status == "unchanged", unchanged
    assert unchanged.counts["drift"]["drifted"] == 0
    feed.write(flat_rows(2, price="11.00"))
    assert (await feed.sync()).status == "succeeded"
    assert (await fields_of(feed, "SKU-1"))["vendor"] == "Hand-picked vendor"
    assert await feed.configs.pool.fetchval("SELECT count(*) FROM drift_findings") == 0


async def test_a_product_deleted_by_hand_is_created_again_once(make_feed: MakeFeed) -> None:
    """`overwrite`: the run after a product was deleted in the shop creates it again by erpsync's custom ID
    — one product for the SKU, never two — although its feed row did not change."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(3))
    doomed = await holder(feed, "SKU-2")
    await feed.configs.shop.graphql(PRODUCT_DELETE, {"id": doomed["id"]})
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert (result.counts["drift"]["deleted"], result.counts["created"]) == (1, 1)
    again = await holder(feed, "SKU-2")
    assert again["id"] != doomed["id"]
    assert again["metafield"] == doomed["metafield"]  # the same custom ID
    assert len(await feed.configs.shop.catalogue()) == 3
    settled = await feed.configs.pool.fetchval(
        "SELECT settled_how FROM drift_findings WHERE kind = 'deleted'"
    )
    assert settled == "created again"
    assert (await feed.sync()).status == "unchanged"


@pytest.mark.parametrize("policy", ["keep", "report"])
async def test_a_product_deleted_by_hand_waits_for_its_feed_row(make_feed: MakeFeed, policy: str) -> None:
    """`keep` and `report`: a product deleted in the shop is not created again while its row is the one
    erpsync wrote; it is when the row changes."""
    feed = await make_feed(drift_policy=policy)
    await first_sync(feed, flat_rows(2))
    await feed.configs.shop.graphql(PRODUCT_DELETE, {"id": (await holder(feed, "SKU-1"))["id"]})
    found = await feed.sync()
    assert found.status == "unchanged", found
    assert found.counts["drift"]["deleted"] == 1
    assert "SKU-1" not in await feed.configs.shop.by_sku()
    rows = flat_rows(2)
    rows[0]["price"] = "15.00"
    feed.write(rows)
    assert (await feed.sync()).status == "succeeded"
    assert await prices(feed) == {"SKU-1": "15.00", "SKU-2": "10.00"}


@pytest.mark.parametrize("policy", ["overwrite", "report"])
async def test_a_variant_removed_and_one_added_by_hand(make_feed: MakeFeed, policy: str) -> None:
    """A merchant drops variant A-M and adds HAND-XS. `overwrite`: the next run makes the variants the
    feed's again (A-M back, HAND-XS named in the log, then removed); `report`: both reported, the shop
    left as the merchant made it."""
    feed = await make_feed(grouped=True, drift_policy=policy)
    await first_sync(feed, grouped_rows({"P1": ["A-S", "A-M", "A-L"], "P2": ["B-S"]}))
    product = await holder(feed, "A-S")
    kept = [node for node in product["variants"]["nodes"] if node["sku"] != "A-M"]
    await feed.configs.shop.edit_variants_by_hand(product["id"], kept, ["S", "L"], added=("HAND-XS", "XS"))
    result = await feed.sync()
    counts = result.counts["drift"]
    assert (counts["variants_added"], counts["variants_removed"]) == (1, 1)
    skus = sorted(v["sku"] for v in (await holder(feed, "A-S"))["variants"]["nodes"])
    if policy == "overwrite":
        assert result.status == "succeeded", result
        assert skus == ["A-L", "A-M", "A-S"]
        warnings = [row["message"] for row in await feed.logs("warning")]
        assert any("variant HAND-XS of product P1 was added in the shop" in line for line in warnings)
        assert (await feed.sync()).status == "unchanged"
    else:
        assert result.status == "unchanged", result
        assert skus == ["A-L", "A-S", "HAND-XS"]
        kinds = await feed.configs.pool.fetch(
            "SELECT kind, field FROM drift_findings WHERE state = 'open' ORDER BY field"
        )
        assert [tuple(row) for row in kinds] == [
            ("field", "productOptions"),  # Size: S, L, XS where erpsync wrote S, M, L
            ("variant_removed", "variants[A-M]"),
            ("variant_added", "variants[HAND-XS]"),
        ]


async def test_products_the_config_does_not_own_are_never_compared(make_feed: MakeFeed) -> None:
    """A merchant's own product, edited after the run: not compared, not written, not reported."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(2))
    mine = await feed.configs.shop.create_by_hand(
        title="Merchant tee", handle="merchant-tee", skus=["M-1"], price="3.00"
    )
    await feed.configs.shop.graphql(PRODUCT_EDIT, {"p": {"id": mine["id"], "title": "Merchant tee, edited"}})
    result = await feed.sync()
    assert result.status == "unchanged", result
    assert result.counts["drift"]["updated_in_shop"] >= 1
    assert result.counts["drift"]["compared"] == 0  # only the merchant's product changed since the first run
    assert result.counts["drift"]["known"] == 2  # the config's two, as the first run wrote them
    theirs = (await feed.configs.shop.by_sku())["M-1"][0]
    assert (theirs["title"], theirs["variants"]["nodes"][0]["price"]) == ("Merchant tee, edited", "3.00")
    assert await feed.configs.pool.fetchval("SELECT count(*) FROM drift_findings") == 0


async def test_an_unchanged_feed_with_no_drift_costs_a_couple_of_small_requests(make_feed: MakeFeed) -> None:
    """Nothing changed in the shop since the window: one request (a count and the deletion events)."""
    feed = await make_feed(sync={"drift_overlap_seconds": 0})
    await first_sync(feed, flat_rows(3))

    assert (await feed.sync()).status == "unchanged"
    requests = int((await feed.configs.shop.simulator.stats())["requests"])
    result = await feed.sync()
    assert result.status == "unchanged", result
    assert int((await feed.configs.shop.simulator.stats())["requests"]) == requests + 1
    assert (result.counts["drift"]["updated_in_shop"], result.counts["drift"]["compared"]) == (0, 0)
