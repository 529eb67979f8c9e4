"""Adoption priced by what is new: SKUs new to a config are searched for by SKU, many a query, and never
by an export of the shop; a SKU the shop holds ambiguously is never adopted, and no copy is created.

Each test runs whole syncs against real PostgreSQL and the simulator, then reads the shop.
"""

from __future__ import annotations

from typing import Any

from shop_support import ConfigFeed, MakeFeed, flat_rows, grouped_rows

BULK_QUERIES = "{ bulkOperations(first: 50) { nodes { type query } } }"


async def searches(feed: ConfigFeed) -> int:
    return int((await feed.configs.shop.simulator.stats())["searches"].get("productVariants", 0))


async def bulk_queries(feed: ConfigFeed) -> list[str]:
    """The text of every bulk query the shop ran."""
    nodes = (await feed.configs.shop.graphql(BULK_QUERIES))["bulkOperations"]["nodes"]
    return [node["query"] for node in nodes if node["type"] == "QUERY"]


def holders(catalogue: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For each SKU, the ids of the products holding it."""
    found: dict[str, list[str]] = {}
    for product in catalogue:
        for variant in product["variants"]["nodes"]:
            found.setdefault(variant["sku"], []).append(product["id"])
    return found


async def test_many_new_skus_are_adopted_by_search_without_an_export(make_feed: MakeFeed) -> None:
    """270 SKUs new to the config, 260 of them on 26 products made by hand: two SKU searches (249 SKUs a
    query at Shopify's 1,000-point limit) find them; the 26 products are adopted and updated, one is
    created, each SKU once in the shop. The only bulk query reads the 26 products to update by id; none
    exports the shop."""
    feed = await make_feed(grouped=True)
    shop = feed.configs.shop
    made: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for n in range(27):
        skus = [f"P{n}-{size}" for size in range(10)]
        rows += [
            {
                "parent": f"P{n}",
                "sku": sku,
                "title": f"Tee {n}",
                "size": f"V{size}",
                "price": "9.00",
                "stock": 1,
            }
            for size, sku in enumerate(skus)
        ]
        if n < 26:
            made[f"P{n}"] = (await shop.create_by_hand(title=f"Hand {n}", handle=f"hand-{n}", skus=skus))[
                "id"
            ]
    feed.write(rows)
    before = await searches(feed)
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["adopted"] == 26
    assert result.counts["created"] == 1
    assert result.counts["updated"] == 26
    assert result.counts["adopt_queries"] == 3  # whether the shop has any variant, then two searches
    assert await searches(feed) - before == 2
    reads = await bulk_queries(feed)
    assert len(reads) == 1
    assert 'query: "id:' in reads[0]
    catalogue = await shop.catalogue()
    assert len(catalogue) == 27
    by_sku = holders(catalogue)
    assert sorted(by_sku) == sorted(row["sku"] for row in rows)
    assert all(len(ids) == 1 for ids in by_sku.values())
    assert all(by_sku[f"P{n}-0"] == [made[f"P{n}"]] for n in range(26))
    assert {v["price"] for p in catalogue for v in p["variants"]["nodes"]} == {"9.00"}


async def test_a_first_run_into_an_empty_shop_searches_for_nothing(make_feed: MakeFeed) -> None:
    """A shop without a variant has nothing to adopt: one count query, no search, no bulk query, and
    every product created once."""
    feed = await make_feed()
    feed.write(flat_rows(300))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["created"] == 300
    assert result.counts["adopt_queries"] == 1
    assert await searches(feed) == 0
    assert await bulk_queries(feed) == []
    by_sku = holders(await feed.configs.shop.catalogue())
    assert len(by_sku) == 300
    assert all(len(ids) == 1 for ids in by_sku.values())


async def test_skus_with_quotes_spaces_and_colons_are_adopted(make_feed: MakeFeed) -> None:
    """SKUs holding a quote, a space, a colon, a backslash and a comma are found by their search and
    adopted: the shop holds each once, on the product made by hand."""
    feed = await make_feed(grouped=True)
    odd = ['TEE "S"', "TEE M:1", "TEE L", "TEE\\XL", "TEE,XXL"]
    product = await feed.configs.shop.create_by_hand(title="Odd", handle="odd", skus=odd)
    feed.write(grouped_rows({"ODD": odd}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["adopted"] == 1
    assert result.counts["created"] == 0
    by_sku = holders(await feed.configs.shop.catalogue())
    assert by_sku == {sku: [product["id"]] for sku in odd}
    again = await feed.sync()
    assert again.counts["unchanged"] == 1
    assert holders(await feed.configs.shop.catalogue()) == by_sku


async def test_sku_on_two_shop_products_is_neither_adopted_nor_created(make_feed: MakeFeed) -> None:
    """A feed SKU that two products of the shop hold: neither is adopted, no third is created, the run is
    partial and its log names the SKU with both product ids; the shop is as it was, the next run too."""
    feed = await make_feed()
    shop = feed.configs.shop
    first = await shop.create_by_hand(title="Hand one", handle="hand-one", skus=["SKU-1"], price="3.00")
    second = await shop.create_by_hand(title="Hand two", handle="hand-two", skus=["SKU-1"], price="4.00")
    before = await shop.catalogue()
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["adopted"] == 0
    assert result.counts["ambiguous"] == 1
    assert result.counts["created"] == 2
    errors = [row for row in await feed.logs("error") if row["sku"] == "SKU-1"]
    assert len(errors) == 1
    assert first["id"] in errors[0]["message"]
    assert second["id"] in errors[0]["message"]
    after = await shop.catalogue()
    assert [p for p in after if p["id"] in (first["id"], second["id"])] == before
    assert holders(after)["SKU-1"] == [first["id"], second["id"]]
    assert sorted(holders(after)) == ["SKU-1", "SKU-2", "SKU-3"]
    again = await feed.sync()
    assert again.counts["ambiguous"] == 1
    assert await shop.catalogue() == after


async def test_skus_of_one_product_on_two_shop_products_are_not_adopted(make_feed: MakeFeed) -> None:
    """A feed product whose SKUs are on two different products of the shop: adopting either would put
    the other's SKU on it twice. Neither is adopted, nothing is created, both are left as they were."""
    feed = await make_feed(grouped=True)
    shop = feed.configs.shop
    small = await shop.create_by_hand(title="Small", handle="small", skus=["A-S"])
    medium = await shop.create_by_hand(title="Medium", handle="medium", skus=["A-M"])
    before = await shop.catalogue()
    feed.write(grouped_rows({"P1": ["A-S", "A-M"]}))
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["ambiguous"] == 1
    assert result.counts["created"] == 0
    messages = [row["message"] for row in await feed.logs("error")]
    assert any(small["id"] in message and medium["id"] in message for message in messages), messages
    assert await shop.catalogue() == before


async def test_new_sku_of_an_owned_product_held_by_a_merchant_product_is_not_written(
    make_feed: MakeFeed,
) -> None:
    """A product erpsync created gains a SKU in the feed that a merchant's product already holds: the
    product is not updated (the SKU would be in the shop twice), the merchant's product is untouched, and
    the log names both products."""
    feed = await make_feed(grouped=True)
    shop = feed.configs.shop
    feed.write(grouped_rows({"P1": ["A-S"]}))
    await feed.sync()
    owned = (await shop.by_sku())["A-S"][0]
    merchant = await shop.create_by_hand(title="Merchant", handle="merchant", skus=["A-M"])
    before = await shop.catalogue()
    feed.write(grouped_rows({"P1": ["A-S", "A-M"]}, price="30.00"))
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["ambiguous"] == 1
    assert result.counts["updated"] == 0
    [line] = [row["message"] for row in await feed.logs("error") if row["sku"] == "A-M"]
    assert merchant["id"] in line
    assert owned["id"] in line
    assert await shop.catalogue() == before


async def test_new_sku_on_a_product_erpsync_writes_for_another_is_not_adopted(make_feed: MakeFeed) -> None:
    """A variant added by hand to a product erpsync writes for P1, whose SKU a new feed product P2 then
    carries: P2 does not take over P1's product and is not created; P1's product is left as it was. (The
    config reports drift: under `overwrite` the run would also write P1's variants back, without B-S, as
    soon as its drift check sees the edit, which depends on the second the edit lands in.)"""
    feed = await make_feed(grouped=True, drift_policy="report")
    shop = feed.configs.shop
    feed.write(grouped_rows({"P1": ["A-S", "A-M"]}))
    await feed.sync()
    owned = (await shop.by_sku())["A-S"][0]
    await shop.edit_variants_by_hand(owned["id"], owned["variants"]["nodes"], ["S", "M"], added=("B-S", "XS"))
    before = await shop.catalogue()
    feed.write(grouped_rows({"P1": ["A-S", "A-M"], "P2": ["B-S"]}))
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["ambiguous"] == 1
    assert result.counts["adopted"] == 0
    assert result.counts["created"] == 0
    [line] = [row["message"] for row in await feed.logs("error") if row["sku"] == "B-S"]
    assert owned["id"] in line
    assert await shop.catalogue() == before


async def test_a_search_matching_more_than_a_page_is_read_to_its_end(make_feed: MakeFeed) -> None:
    """A bucket of 18 points sizes each search at 4 SKUs and a page of 4; a SKU on five shop products
    fills more than a page, and the cursor brings the fifth: the log names all five, none is adopted or
    created, and the other 7 new SKUs are created, in 3 searches in all."""
    feed = await make_feed(options={"bucket_size": 18, "throttling_enabled": False})
    shop = feed.configs.shop
    copies = [
        (await shop.create_by_hand(title=f"Copy {n}", handle=f"copy-{n}", skus=["SKU-1"]))["id"]
        for n in range(5)
    ]
    feed.write(flat_rows(8))
    before = await searches(feed)
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["ambiguous"] == 1
    assert result.counts["created"] == 7
    assert result.counts["adopt_queries"] == 4
    assert await searches(feed) - before == 3
    [line] = [row["message"] for row in await feed.logs("error") if row["sku"] == "SKU-1"]
    assert all(product_id in line for product_id in copies), line
    by_sku = holders(await shop.catalogue())
    assert by_sku["SKU-1"] == copies
    assert all(len(by_sku[f"SKU-{n}"]) == 1 for n in range(2, 9))


async def test_a_search_the_shop_refuses_fails_the_run_cleanly(make_feed: MakeFeed) -> None:
    """A shop that refuses the search (here: a lower single-query cost limit than Shopify's 1,000 points)
    fails the run with one line naming the refusal; the run is recorded as failed, nothing is written, and
    the shop keeps only the product made by hand."""
    feed = await make_feed(options={"max_query_cost": 500})
    shop = feed.configs.shop
    await shop.create_by_hand(title="Hand", handle="hand", skus=["SKU-1"])
    before = await shop.catalogue()
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert result.status == "failed", result
    assert result.error is not None
    assert "exceeds the single query max cost limit (500)" in result.error
    assert "\n" not in result.error
    status = await feed.configs.pool.fetchval("SELECT status FROM sync_runs WHERE id = $1", result.run_id)
    assert status == "failed"
    assert await shop.catalogue() == before
