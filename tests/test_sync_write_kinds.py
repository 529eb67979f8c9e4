"""Each change goes out as the lightest mutation that expresses it, decided from the last-written state.

A price alone is a `productVariantsBulkUpdate` of that field of that variant — no media, no other
variant, no metafield rewritten; anything structural stays a `productSet`. Whole runs against the
simulator, looking at the shop afterwards.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from shop_support import GROUPED_FIELDS, ConfigFeed, MakeFeed
from support import API_TOKEN

from erpsync.api.app import init_app
from erpsync.changes import compare
from erpsync.cli_sync import render_result

PRODUCT_QUERY = """
query($id: ID!) { product(id: $id) { id title
  options { name optionValues { name } }
  variants(first: 20) { nodes { id sku price compareAtPrice barcode updatedAt } }
  media(first: 20) { nodes { id } } } }
"""
MAPPING = {
    "title": "title",
    "variant.sku": "sku",
    "variant.price": "price",
    "variant.option1": "size",
    "variant.inventory_quantity": "stock",
    "images": "images",
}


def rows(*, prices: dict[str, str] | None = None, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Two tees in sizes S, M, L with two images each; `prices` by SKU, other fields by SKU."""
    found = []
    for parent in ("T1", "T2"):
        for size in ("S", "M", "L"):
            sku = f"{parent}-{size}"
            row = {
                "parent": parent,
                "sku": sku,
                "title": f"Tee {parent}",
                "size": size,
                "price": (prices or {}).get(sku, "20.00"),
                "stock": 5,
                "images": f"https://cdn.example.com/{parent}-a.jpg|https://cdn.example.com/{parent}-b.jpg",
            }
            row.update(changes.get(sku, {}))
            found.append(row)
    return found


async def tees(make_feed: MakeFeed, **options: Any) -> ConfigFeed:
    feed = await make_feed(grouped=True, mapping=MAPPING, **options)
    feed.fields = [*GROUPED_FIELDS, "images"]
    feed.write(rows())
    first = await feed.sync()
    assert first.status == "succeeded", first
    return feed


async def stats(feed: ConfigFeed) -> dict[str, Any]:
    return dict(await feed.configs.shop.simulator.stats())


async def product(feed: ConfigFeed, sku: str) -> dict[str, Any]:
    product_id = await feed.configs.pool.fetchval(
        "SELECT shopify_product_id FROM products WHERE sku = $1", sku
    )
    data = await feed.configs.shop.graphql(PRODUCT_QUERY, {"id": product_id})
    found: dict[str, Any] = data["product"]
    return found


def variant_lines(feed: ConfigFeed) -> list[dict[str, Any]]:
    """Every productVariantsBulkUpdate line uploaded to the shop's staged uploads."""
    from shopify_simulator.server import SIMULATOR_KEY

    simulator = feed.configs.shop.simulator.server.app[SIMULATOR_KEY]
    lines = [
        orjson.loads(line)
        for staged in simulator.state.staged_files.values()
        for line in (staged.content or b"").splitlines()
    ]
    return [line for line in lines if "productId" in line]


async def test_a_price_change_is_a_variant_update_of_that_price_alone(make_feed: MakeFeed) -> None:
    """One price of one variant: one productVariantsBulkUpdate line carrying that variant's id and price
    only; the shop shows the new price, the same media ids, the other variants untouched; no media made."""
    feed = await tees(make_feed)
    before = await product(feed, "T1-M")
    counts = await stats(feed)
    feed.write(rows(prices={"T1-M": "24.00"}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["updated"] == 1
    after_stats = await stats(feed)
    assert after_stats["mutations"].get("productSet", 0) == counts["mutations"].get("productSet", 0)
    assert after_stats["mutations"]["productVariantsBulkUpdate"] == 1
    assert after_stats["media"] == counts["media"]
    assert after_stats["variants_written"] == counts["variants_written"] + 1
    variant_id = next(v["id"] for v in before["variants"]["nodes"] if v["sku"] == "T1-M")
    assert variant_lines(feed) == [
        {
            "productId": before["id"],
            "variants": [{"id": variant_id, "price": "24.00"}],
        }
    ]
    after = await product(feed, "T1-M")
    assert after["media"] == before["media"]
    old = {v["sku"]: v for v in before["variants"]["nodes"]}
    new = {v["sku"]: v for v in after["variants"]["nodes"]}
    assert new["T1-M"]["price"] == "24.00"
    assert new["T1-M"]["id"] == old["T1-M"]["id"]
    assert {sku: new[sku] for sku in ("T1-S", "T1-L")} == {sku: old[sku] for sku in ("T1-S", "T1-L")}
    # The new state is what was last written: the same feed again writes nothing.
    again = await feed.sync()
    assert again.counts.get("updated", 0) == 0
    assert (await stats(feed))["mutations"] == after_stats["mutations"]


async def test_a_stock_change_alone_writes_no_product_line(make_feed: MakeFeed) -> None:
    """Only a quantity changed: no productSet, no variant update, one compare-and-set stock line; the
    shop shows the new quantity and the product's new state is recorded, so the same feed writes nothing."""
    feed = await tees(make_feed)
    counts = await stats(feed)
    feed.write(rows(**{"T1-M": {"stock": 2}}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["updated"] == 1
    assert result.plan is not None
    assert result.plan["write_kinds"] == {"stock": 1}
    assert result.counts["stock_written"] == 1
    after = await stats(feed)
    assert after["mutations"].get("productSet", 0) == counts["mutations"].get("productSet", 0)
    assert after["mutations"].get("productVariantsBulkUpdate", 0) == 0
    assert (
        after["mutations"]["inventorySetQuantities"]
        == counts["mutations"].get("inventorySetQuantities", 0) + 1
    )
    shop = {
        variant["sku"]: variant["inventoryQuantity"]
        for item in await feed.configs.shop.catalogue()
        for variant in item["variants"]["nodes"]
    }
    assert shop == {**dict.fromkeys(shop, 5), "T1-M": 2}
    again = await feed.sync()
    assert again.counts.get("updated", 0) == 0
    assert (await stats(feed))["mutations"] == after["mutations"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"T1-XL": None}, "variants[T1-XL]"),
        ({"T1-M": {"size": "Medium"}}, "variants[T1-M].optionValues"),
        ({sku: {"title": "Tee One"} for sku in ("T1-S", "T1-M", "T1-L")}, "title"),
    ],
    ids=["variant added", "option value changed", "title changed"],
)
async def test_structural_changes_are_a_product_set(
    make_feed: MakeFeed, change: dict[str, Any], field: str
) -> None:
    """A variant added, an option value or a product field changed: productSet, as the dry run says."""
    feed = await tees(make_feed)
    counts = await stats(feed)
    changed = rows(**{sku: value for sku, value in change.items() if value})
    if "T1-XL" in change:
        changed.insert(3, {**changed[2], "sku": "T1-XL", "size": "XL"})
    feed.write(changed)
    dry = await feed.sync(dry_run=True)
    (update,) = (dry.details or {})["updates"]
    assert update["write_kind"] == "set"
    assert any(item["field"].startswith(field) for item in update["changes"]), update
    result = await feed.sync()
    assert result.status == "succeeded", result
    after = await stats(feed)
    assert after["mutations"]["productSet"] == counts["mutations"]["productSet"] + 1
    assert "productVariantsBulkUpdate" not in after["mutations"]
    shop = await product(feed, "T1-S")
    if field == "title":
        assert shop["title"] == "Tee One"
    elif "T1-XL" in change:
        assert [v["sku"] for v in shop["variants"]["nodes"]] == ["T1-S", "T1-M", "T1-L", "T1-XL"]
    else:
        assert [value["name"] for value in shop["options"][0]["optionValues"]] == ["S", "Medium", "L"]


async def test_a_dry_run_lists_the_changes_from_the_last_written_state(make_feed: MakeFeed) -> None:
    """before -> after for each changed field and the mutation that would write it, with no bulk
    operation, no export and no write in the shop."""
    feed = await tees(make_feed)
    counts = await stats(feed)
    feed.write(rows(prices={"T2-S": "21.00", "T2-L": "22.00"}))
    result = await feed.sync(dry_run=True)
    assert result.status == "dry_run"
    assert result.plan is not None
    assert result.plan["write_kinds"] == {"variants": 1}
    (update,) = (result.details or {})["updates"]
    assert update["product_key"] == "T2"
    assert update["write_kind"] == "variants"
    assert update["changes"] == [
        {"field": "variants[T2-L].price", "before": "20.00", "after": "22.00"},
        {"field": "variants[T2-S].price", "before": "20.00", "after": "21.00"},
    ]
    after = await stats(feed)
    assert after["bulk_operations"] == counts["bulk_operations"]
    assert after["mutations"] == counts["mutations"]
    text = render_result(result)
    assert "writes by mutation: variants 1" in text
    assert "T2 (variants) variants[T2-S].price: '20.00' -> '21.00'" in text


async def test_the_api_dry_run_answers_the_changes_and_write_kinds(make_feed: MakeFeed) -> None:
    """`POST /sync/{id}?dry_run=true` shows the same changes, before -> after, and writes nothing."""
    feed = await tees(make_feed)
    counts = await stats(feed)
    feed.write(rows(prices={"T1-L": "19.00"}, **{"T2-S": {"title": "Tee Two"}, "T2-M": {"title": "Tee Two"}}))
    server = TestServer(init_app(feed.configs.settings), host="127.0.0.1")
    async with TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"}) as client:
        response = await client.post(f"/sync/{feed.id}", params={"dry_run": "true"})
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["plan"]["write_kinds"] == {"set": 1, "variants": 1}
    updates = {update["product_key"]: update for update in body["details"]["updates"]}
    assert updates["T1"]["write_kind"] == "variants"
    assert updates["T1"]["changes"] == [
        {"field": "variants[T1-L].price", "before": "20.00", "after": "19.00"}
    ]
    assert updates["T2"]["write_kind"] == "set"
    assert {"field": "title", "before": "Tee T2", "after": "Tee Two"} in updates["T2"]["changes"]
    assert (await stats(feed))["mutations"] == counts["mutations"]


async def test_a_refused_variant_update_is_sent_again_next_run(make_feed: MakeFeed) -> None:
    """The shop refuses the line: the failure is logged, the product keeps its old hash, and the next
    run sends the same variant update, which lands."""
    feed = await tees(make_feed)
    simulator = feed.configs.shop.simulator
    await simulator.faults(sku_errors={"T1-M": "Price is locked"})
    feed.write(rows(prices={"T1-M": "25.00"}))
    failed = await feed.sync()
    assert failed.counts["failed"] == 1
    assert any("Price is locked" in row["message"] for row in await feed.logs("error"))
    prices = {v["sku"]: v["price"] for v in (await product(feed, "T1-M"))["variants"]["nodes"]}
    assert prices["T1-M"] == "20.00"
    await simulator.faults(clear=True)
    again = await feed.sync()
    assert again.status == "succeeded", again
    assert again.counts["updated"] == 1
    assert (await stats(feed))["mutations"]["productVariantsBulkUpdate"] == 2
    prices = {v["sku"]: v["price"] for v in (await product(feed, "T1-M"))["variants"]["nodes"]}
    assert prices["T1-M"] == "25.00"


async def test_an_adopted_product_is_written_by_product_set(make_feed: MakeFeed) -> None:
    """A product found in the shop by its SKUs has no last-written state: its first write is whole."""
    feed = await make_feed(grouped=True)
    shop = feed.configs.shop
    made = await shop.create_by_hand(title="Old tee", handle="old-tee", skus=["T9-S", "T9-M"], price="20.00")
    feed.write(
        [
            {"parent": "T9", "sku": sku, "title": "Tee T9", "size": size, "price": "20.00", "stock": 5}
            for sku, size in (("T9-S", "V0"), ("T9-M", "V1"))
        ]
    )
    dry = await feed.sync(dry_run=True)
    (update,) = (dry.details or {})["updates"]
    assert update["write_kind"] == "set"
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["adopted"] == 1
    assert await shop.mutations("productSet") == 2  # the merchant's, then erpsync's
    assert await shop.mutations("productVariantsBulkUpdate") == 0
    (product_in_shop,) = await shop.catalogue()
    assert (product_in_shop["id"], product_in_shop["title"]) == (made["id"], "Tee T9")


def test_what_each_change_is_written_with() -> None:
    """Variant fields alone: a variant update; stock alone: the inventory mutations; the inventory
    mutations write it; a variant's SKU, a reorder or a product field: productSet."""
    base = {
        "title": "Tee",
        "variants": [
            {"sku": "A", "price": "1.00", "inventoryItem": {"sku": "A", "tracked": True}},
            {"sku": "B", "price": "1.00", "inventoryItem": {"sku": "B", "tracked": True}},
        ],
    }

    def changed(**fields: Any) -> dict[str, Any]:
        first = {**base["variants"][0], **fields}  # type: ignore[index]
        return {**base, "variants": [first, base["variants"][1]]}  # type: ignore[index]

    weight = {"sku": "A", "tracked": True, "measurement": {"weight": {"value": 2.0, "unit": "KILOGRAMS"}}}
    stock = [{"locationId": "gid://shopify/Location/1", "name": "available", "quantity": 3}]
    assert compare(base, changed(price="2.00")).kind == "variants"
    assert compare(base, changed(inventoryItem=weight, barcode="123")).kind == "variants"
    assert compare(base, changed(inventoryQuantities=stock)).kind == "stock"
    assert compare(base, changed(inventoryQuantities=stock, price="2.00")).kind == "variants+stock"
    assert compare(base, changed(inventoryItem={"sku": "Z", "tracked": True})).kind == "set"
    assert compare(base, {**base, "variants": base["variants"][::-1]}).kind == "set"  # type: ignore[index]
    assert compare(base, {**base, "title": "Tee 2"}).kind == "set"
    assert compare(base, changed(price="2.00"), lightest=False).kind == "set"
    assert compare(None, base).kind == "set"


async def test_a_variant_update_failed_by_a_transient_error_is_sent_again_in_the_run(
    make_feed: MakeFeed,
) -> None:
    """ "Currently being modified" on the variant update's result line: sent again as a variant update in
    the same run, and the price lands."""
    feed = await tees(make_feed)
    simulator = feed.configs.shop.simulator
    await simulator.faults(line_errors={"skus": ["T2-L"], "count": 1})
    feed.write(rows(prices={"T2-L": "26.00"}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["retried"] == 1
    after = await stats(feed)
    assert after["bulk_line_errors"] == 1
    assert after["bulk_mutations"]["productVariantsBulkUpdate"] == 2
    assert after["mutations"]["productVariantsBulkUpdate"] == 1  # the first line never ran
    prices = {v["sku"]: v["price"] for v in (await product(feed, "T2-L"))["variants"]["nodes"]}
    assert prices == {"T2-S": "20.00", "T2-M": "20.00", "T2-L": "26.00"}


async def test_lightest_writes_off_writes_every_update_by_product_set(make_feed: MakeFeed) -> None:
    """`[sync] lightest_writes = false`: a price change is a productSet, as before write kinds."""
    feed = await tees(make_feed, sync={"lightest_writes": False})
    counts = await stats(feed)
    feed.write(rows(prices={"T1-S": "23.00"}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    after = await stats(feed)
    assert after["mutations"]["productSet"] == counts["mutations"]["productSet"] + 1
    assert "productVariantsBulkUpdate" not in after["mutations"]
    prices = {v["sku"]: v["price"] for v in (await product(feed, "T1-S"))["variants"]["nodes"]}
    assert prices["T1-S"] == "23.00"


async def test_a_variant_update_does_not_count_as_writing_the_owner_mark(make_feed: MakeFeed) -> None:
    """A product tracked before erpsync marked its products gets its custom ID by productSet or
    metafieldsSet; a variant update carries no metafield, so the product stays unmarked until one does."""
    size_label = {
        "sourceKey": "size",
        "metafieldNamespace": "custom",
        "metafieldKey": "size_label",
        "metafieldType": "single_line_text_field",
    }
    feed = await tees(make_feed, metafield_mappings=[size_label])
    pool = feed.configs.pool
    await pool.execute("UPDATE product_states SET owner_marked = false")
    feed.write(rows(prices={"T1-S": "22.00"}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    marked = dict(await pool.fetch("SELECT product_key, owner_marked FROM product_states"))
    assert marked == {"T1": False, "T2": True}  # T2 unchanged: marked by metafieldsSet this run
    assert await feed.configs.shop.mutations("productVariantsBulkUpdate") == 1
    await feed.sync()
    assert dict(await pool.fetch("SELECT product_key, owner_marked FROM product_states")) == {
        "T1": True,
        "T2": True,
    }
    assert await feed.configs.shop.mutations("metafieldsSet") == 2
