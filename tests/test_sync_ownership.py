"""What erpsync will never do to a merchant's catalogue, each rule shown by the shop afterwards.

Every test runs whole syncs against real PostgreSQL and the Shopify simulator and then reads the shop:
no write onto a product erpsync does not own, no second product for a SKU the shop already has, no
deletion or variant removal that the delete guard did not allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from shop_support import Configs, flat_rows, grouped_rows
from support import poll_until

from erpsync.db.pool import create_pool
from erpsync.ownership import owner_id
from erpsync.settings import DatabaseSettings, Settings
from erpsync.shopify.client import close_shared_sessions

MakeConfigs = Callable[..., Awaitable[Configs]]


@pytest.fixture
async def make_configs(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> AsyncIterator[MakeConfigs]:
    pools: list[asyncpg.Pool[Any]] = []

    async def make(**simulator_options: Any) -> Configs:
        simulator = await start_shopify(**simulator_options)
        pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=8))
        pools.append(pool)
        return Configs(settings, pool, tmp_path, simulator)

    try:
        yield make
    finally:
        await close_shared_sessions()
        for pool in pools:
            await pool.close()


@pytest.mark.parametrize("taken_handle", ["error", "suffix"])
async def test_handle_held_by_a_merchant_product_is_never_written_over(
    make_configs: MakeConfigs, taken_handle: str
) -> None:
    """A feed product whose handle comes out as one a merchant's product already has is created beside it
    with a free handle; the merchant's product keeps its title and variant, and is not deleted when the
    row leaves the feed — whether Shopify refuses the taken handle or appends a number itself."""
    configs = await make_configs(taken_handle_on_create=taken_handle)
    shop = configs.shop
    merchant = await shop.create_by_hand(title="Summer hat", handle="product-2-sku-2", skus=["HAT-1"])
    feed = await configs.add("acme")
    feed.write(flat_rows(10))
    first = await feed.sync()
    assert first.status == "succeeded", first
    assert first.counts["created"] == 10
    holders = await shop.by_sku()
    hat = holders["HAT-1"][0]
    assert (hat["id"], hat["handle"], hat["title"]) == (merchant["id"], "product-2-sku-2", "Summer hat")
    assert [variant["id"] for variant in hat["variants"]["nodes"]] == [merchant["variants"]["nodes"][0]["id"]]
    ours = holders["SKU-2"][0]
    assert ours["id"] != merchant["id"]
    assert ours["handle"] != "product-2-sku-2"
    assert ours["metafield"]["value"] == owner_id("acme", "SKU-2")

    feed.write([row for row in flat_rows(10) if row["sku"] != "SKU-2"])
    second = await feed.sync()
    assert second.counts["deleted"] == 1
    holders = await shop.by_sku()
    assert "SKU-2" not in holders
    assert holders["HAT-1"][0]["title"] == "Summer hat"


async def test_every_created_product_carries_erpsync_id(make_configs: MakeConfigs) -> None:
    """Products erpsync creates carry its `$app.erpsync_id` custom ID; the definition is made once."""
    configs = await make_configs()
    feed = await configs.add("acme", grouped=True)
    feed.write(grouped_rows({"P1": ["A1", "A2"], "P2": ["B1"]}))
    await feed.sync()
    await feed.sync()
    catalogue = await configs.shop.catalogue()
    assert sorted(product["metafield"]["value"] for product in catalogue) == sorted(
        [owner_id("acme", "P1"), owner_id("acme", "P2")]
    )
    assert await configs.shop.mutations("metafieldDefinitionCreate") == 1


async def test_another_configs_skus_are_never_adopted_updated_or_deleted(make_configs: MakeConfigs) -> None:
    """Config B listing SKUs config A created reports each as a conflict naming A and leaves A's products
    as A wrote them; B dropping one deletes nothing of A's, and A still finds all its products."""
    configs = await make_configs()
    config_a = await configs.add("config-a")
    config_b = await configs.add("config-b")
    config_a.write(flat_rows(20))
    assert (await config_a.sync()).counts["created"] == 20
    config_b.write(
        [{**row, "title": "B's title", "price": "99.00"} for row in flat_rows(10)] + flat_rows(2, prefix="B")
    )
    result_b = await config_b.sync()
    assert result_b.status == "partial"
    assert result_b.counts["conflicts"] == 10
    assert result_b.counts["created"] == 2
    errors = await config_b.logs("error")
    assert any(row["sku"] == "SKU-1" and "owned by config 'config-a'" in row["message"] for row in errors)
    holders = await configs.shop.by_sku()
    assert all(len(holders[f"SKU-{n}"]) == 1 for n in range(1, 21))
    assert holders["SKU-3"][0]["title"] == "Product 3"
    assert holders["SKU-3"][0]["variants"]["nodes"][0]["price"] == "10.00"

    config_b.write(flat_rows(9) + flat_rows(2, prefix="B"))
    again = await config_b.sync()
    assert again.counts["deleted"] == 0
    assert "SKU-10" in await configs.shop.by_sku()
    result_a = await config_a.settled()
    assert result_a.counts["unchanged"] == 20
    assert len(await configs.shop.catalogue()) == 22


async def test_two_configs_started_together_create_each_sku_once(make_configs: MakeConfigs) -> None:
    """Two configs over the same SKUs, started at the same moment on an empty shop: each SKU is created
    once, by one config; the other reports conflicts; later runs keep it that way."""
    configs = await make_configs()
    config_a = await configs.add("config-a")
    config_b = await configs.add("config-b")
    config_a.write(flat_rows(20))
    config_b.write(flat_rows(20))
    results = await asyncio.gather(config_a.sync(), config_b.sync())
    assert sorted(result.status for result in results) == ["partial", "succeeded"]
    assert sum(result.counts.get("created", 0) for result in results) == 20
    for _ in range(2):
        await asyncio.gather(config_a.sync(), config_b.sync())
    holders = await configs.shop.by_sku()
    assert sorted(holders) == sorted(f"SKU-{n}" for n in range(1, 21))
    assert all(len(products) == 1 for products in holders.values())


async def test_product_key_edit_keeps_every_product(make_configs: MakeConfigs) -> None:
    """Renumbered parents (a `product_key` whose values all changed) update the same products in place:
    same product and variant ids, no second product for any SKU, nothing deleted."""
    configs = await make_configs()
    feed = await configs.add("acme", grouped=True)
    parents = {f"P{n}": [f"T{n}-S", f"T{n}-M", f"T{n}-L"] for n in range(1, 8)}
    feed.write(grouped_rows(parents))
    assert (await feed.sync()).counts["created"] == 7
    before = await configs.shop.by_sku()
    feed.write(grouped_rows({key.replace("P", "Q"): skus for key, skus in parents.items()}))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["created"] == 0
    assert result.counts["deleted"] == 0
    assert result.counts["updated"] == 7
    after = await configs.shop.by_sku()
    assert all(len(products) == 1 for products in after.values())
    assert {sku: products[0]["id"] for sku, products in after.items()} == {
        sku: products[0]["id"] for sku, products in before.items()
    }
    variant_ids = {v["sku"]: v["id"] for products in after.values() for v in products[0]["variants"]["nodes"]}
    assert variant_ids == {
        v["sku"]: v["id"] for products in before.values() for v in products[0]["variants"]["nodes"]
    }
    assert (await feed.settled()).counts["unchanged"] == 7


async def test_regrouping_never_puts_a_sku_on_two_products(make_configs: MakeConfigs) -> None:
    """Ungrouping (every SKU its own product) moves variants out of their old products before the new ones
    are created: the guard first holds the run, removing nothing; once allowed, each SKU is on one product."""
    configs = await make_configs()
    feed = await configs.add("acme", grouped=True)
    parents = {f"P{n}": [f"T{n}-S", f"T{n}-M", f"T{n}-L"] for n in range(1, 5)}
    feed.write(grouped_rows(parents))
    await feed.sync()
    mapping = {field: column for field, column in feed.config.mapping.items() if field != "variant.option1"}
    await feed.change(product_key=None, options=[], mapping=mapping)
    held = await feed.sync()
    assert held.status == "needs_attention", held
    holders = await configs.shop.by_sku()
    assert len(await configs.shop.catalogue()) == 4
    assert all(len(holders[sku]) == 1 for skus in parents.values() for sku in skus)
    assert all(len(holders[skus[0]][0]["variants"]["nodes"]) == 3 for skus in parents.values())

    allowed = await feed.sync(allow_mass_delete=True)
    assert allowed.status == "succeeded", allowed
    holders = await configs.shop.by_sku()
    assert sorted(holders) == sorted(sku for skus in parents.values() for sku in skus)
    assert all(
        len(products) == 1 and len(products[0]["variants"]["nodes"]) == 1 for products in holders.values()
    )
    assert len(await configs.shop.catalogue()) == 12


async def test_feed_cut_inside_a_product_removes_no_variant(make_configs: MakeConfigs) -> None:
    """A feed cut at a line boundary: the guard holds the deletes back and the last product, which kept
    3 of its 5 rows, keeps all 5 variants in the shop."""
    configs = await make_configs()
    feed = await configs.add("acme", grouped=True)
    parents = {f"P{n}": [f"T{n}-{size}" for size in ("S", "M", "L", "XL", "XXL")] for n in range(1, 11)}
    feed.write(grouped_rows(parents))
    await feed.sync()
    rows = grouped_rows(parents)
    feed.write(rows[: 5 * 2 + 3])
    result = await feed.sync()
    assert result.status == "needs_attention"
    assert result.counts["deleted"] == 0
    holders = await configs.shop.by_sku()
    assert len(await configs.shop.catalogue()) == 10
    assert len(holders["T3-S"][0]["variants"]["nodes"]) == 5
    warnings = [row["message"] for row in await feed.logs("warning")]
    assert any("variant T3-XXL of product P3" in message and "held back" in message for message in warnings)


async def test_location_change_writes_stock_at_the_new_location_once(make_configs: MakeConfigs) -> None:
    """Changing `location_id` is part of what a run compares: each product is written once, its variants
    are stocked at the new location with the feed's quantities, and the run after it writes nothing."""
    configs = await make_configs(location_names=("Main warehouse", "Second store"))
    feed = await configs.add("acme")
    feed.write(flat_rows(4))
    await feed.sync()
    locations = (await configs.shop.graphql("{ locations(first: 5) { nodes { id name } } }"))["locations"][
        "nodes"
    ]
    second = next(node["id"] for node in locations if node["name"] == "Second store")
    await feed.change(location_id=second)
    preview = await feed.sync(dry_run=True)
    assert preview.counts["planned_update"] == 4, preview
    assert await configs.shop.mutations("inventoryActivate") == 0
    moved = await feed.sync()
    assert moved.status == "succeeded", moved
    assert moved.counts["updated"] == 4
    assert await configs.shop.mutations("inventoryActivate") == 4
    level = await configs.shop.graphql(
        'query($l: ID!) { productVariants(first: 1, query: "sku:SKU-3") { nodes { inventoryItem { '
        'inventoryLevel(locationId: $l) { quantities(names: ["available"]) { quantity } } } } } }',
        {"l": second},
    )
    node = level["productVariants"]["nodes"][0]["inventoryItem"]["inventoryLevel"]
    assert node["quantities"][0]["quantity"] == 3
    warnings = [row["message"] for row in await feed.logs("warning")]
    assert any("location_id changed" in message for message in warnings)
    feed.write(flat_rows(4, price="12.00"))
    again = await feed.sync()
    assert again.counts["updated"] == 4
    assert await configs.shop.mutations("inventoryActivate") == 4
    assert (await feed.settled()).counts["unchanged"] == 4


async def test_operation_started_but_not_recorded_is_not_sent_again(make_configs: MakeConfigs) -> None:
    """A run stopped after Shopify started its bulk operation but before erpsync stored the id: the next
    run finds that operation by its name and reads its results; nothing is sent twice."""
    configs = await make_configs()
    feed = await configs.add("acme")
    feed.write(flat_rows(6))
    await configs.shop.simulator.faults(hold_bulk_start_ms=5000)
    task = asyncio.create_task(feed.sync())

    async def started() -> bool:
        data = await configs.shop.graphql(
            '{ bulkOperations(first: 5, query: "operation_type:mutation") { nodes { id } } }'
        )
        return bool(data["bulkOperations"]["nodes"])

    await poll_until(started, seconds=20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    status = await configs.pool.fetchval("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1")
    assert status == "running"
    again = await feed.sync()  # resumes the stopped run first, then runs anew
    assert again.counts["unchanged"] == 6, again
    resumed = await configs.pool.fetchrow("SELECT status, counts FROM sync_runs WHERE id = 1")
    assert resumed["status"] == "succeeded"
    assert resumed["counts"]["created"] == 6
    operations = await configs.shop.graphql(
        '{ bulkOperations(first: 10, query: "operation_type:mutation") { nodes { id } } }'
    )
    assert len(operations["bulkOperations"]["nodes"]) == 1
    assert await configs.shop.mutations("productSet") == 6
    holders = await configs.shop.by_sku()
    assert all(len(products) == 1 for products in holders.values())


async def test_variant_removed_by_hand_heals_in_the_same_run(make_configs: MakeConfigs) -> None:
    """A variant a merchant removed (and one they added) no longer sinks the product: the run reads the
    product back, names the hand-added variant before removing it, writes the feed's variants and
    prices, and the next run writes nothing."""
    configs = await make_configs()
    feed = await configs.add("acme", grouped=True)
    feed.write(grouped_rows({"P1": ["A-S", "A-M", "A-L"], "P2": ["B-S"]}))
    await feed.sync()
    product = (await configs.shop.by_sku())["A-S"][0]
    kept = [node for node in product["variants"]["nodes"] if node["sku"] != "A-M"]
    await configs.shop.edit_variants_by_hand(product["id"], kept, ["S", "L"], added=("HAND-XS", "XS"))
    feed.write(grouped_rows({"P1": ["A-S", "A-M", "A-L"], "P2": ["B-S"]}, price="24.00"))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["updated"] == 2
    healed = (await configs.shop.by_sku())["A-S"][0]
    assert healed["id"] == product["id"]
    assert sorted(v["sku"] for v in healed["variants"]["nodes"]) == ["A-L", "A-M", "A-S"]
    assert {v["price"] for v in healed["variants"]["nodes"]} == {"24.00"}
    warnings = [row["message"] for row in await feed.logs("warning")]
    assert any("variant A-M of product P1 was removed in the shop" in message for message in warnings)
    assert any("variant HAND-XS of product P1 was added in the shop" in message for message in warnings)
    assert (await feed.settled()).counts["unchanged"] == 2


async def test_product_deleted_by_hand_is_created_again_in_the_same_run(make_configs: MakeConfigs) -> None:
    """A product deleted in the shop whose row then changes is created again in that run, not failed."""
    configs = await make_configs()
    feed = await configs.add("acme")
    feed.write(flat_rows(10))
    await feed.sync()
    doomed = (await configs.shop.by_sku())["SKU-4"][0]
    await configs.shop.graphql(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }", {"id": doomed["id"]}
    )
    feed.write(flat_rows(10, price="11.00"))
    result = await feed.sync()
    assert result.status == "succeeded", result
    again = (await configs.shop.by_sku())["SKU-4"]
    assert len(again) == 1
    assert again[0]["id"] != doomed["id"]
    assert again[0]["variants"]["nodes"][0]["price"] == "11.00"
    assert (await feed.settled()).counts["unchanged"] == 10


@pytest.mark.parametrize("lookup_limit", [200, 0], ids=["by-search", "by-export"])
async def test_variant_added_by_hand_is_named_before_an_update_removes_it(
    make_configs: MakeConfigs, lookup_limit: int
) -> None:
    """A merchant adds a variant to a product erpsync owns; the next change of that product reads the shop
    first and names the variant in the log before the feed's variant list replaces it — whether the
    products are searched by id or found in one export of the whole shop."""
    configs = await make_configs()
    sync_settings = configs.settings.sync.model_copy(update={"sku_lookup_limit": lookup_limit})
    configs.settings = configs.settings.model_copy(update={"sync": sync_settings})
    feed = await configs.add("acme", grouped=True)
    feed.write(grouped_rows({"P1": ["A-S", "A-M"], "P2": ["B-S"]}))
    await feed.sync()
    product = (await configs.shop.by_sku())["A-S"][0]
    existing = product["variants"]["nodes"]
    await configs.shop.edit_variants_by_hand(product["id"], existing, ["S", "M"], added=("HAND-XS", "XS"))
    feed.write(grouped_rows({"P1": ["A-S", "A-M"], "P2": ["B-S"]}, price="21.00"))
    result = await feed.sync()
    assert result.status == "succeeded", result
    logged = await feed.logs("warning")
    assert [row["sku"] for row in logged if "added in the shop" in row["message"]] == ["HAND-XS"]
    after = (await configs.shop.by_sku())["A-S"][0]
    assert after["id"] == product["id"]
    assert sorted(v["sku"] for v in after["variants"]["nodes"]) == ["A-M", "A-S"]
    assert [v["id"] for v in after["variants"]["nodes"]] == [node["id"] for node in existing]


async def test_a_share_of_the_products_is_read_by_id_not_by_exporting_the_shop(
    make_configs: MakeConfigs,
) -> None:
    """Past `sku_lookup_limit` (here 0) but under half of the config's products, the products to update
    are read by an `id:` search of them alone; only when most of them are rewritten is the shop exported."""
    configs = await make_configs()
    sync_settings = configs.settings.sync.model_copy(update={"sku_lookup_limit": 0})
    configs.settings = configs.settings.model_copy(update={"sync": sync_settings})
    feed = await configs.add("acme")
    feed.write(flat_rows(10))
    await feed.sync()
    query = "{ bulkOperations(first: 50) { nodes { type query } } }"

    async def reads() -> list[str]:
        """The exports that read products to update (the drift check's list of ids and times aside)."""
        nodes = (await configs.shop.graphql(query))["bulkOperations"]["nodes"]
        return [
            node["query"]
            for node in nodes
            if node["type"] == "QUERY" and "updated_at:>=" not in node["query"]
        ]

    feed.write(
        [{**row, "price": "11.00"} if row["sku"] in ("SKU-1", "SKU-2") else row for row in flat_rows(10)]
    )
    assert (await feed.sync()).counts["updated"] == 2
    [by_id] = await reads()
    assert 'query: "id:' in by_id
    feed.write(flat_rows(10, price="12.00"))
    assert (await feed.sync()).counts["updated"] == 10
    assert sorted('query: "id:' in text for text in await reads()) == [False, True]  # then the whole shop


async def test_products_tracked_before_get_their_id_without_a_rewrite(make_configs: MakeConfigs) -> None:
    """Products tracked before erpsync marked its products (no custom ID in the shop) get it by
    `metafieldsSet` alone at the next run: no productSet is sent, other metafields stay, and the run after
    sends nothing."""
    configs = await make_configs()
    feed = await configs.add("acme")
    feed.write(flat_rows(5))
    await feed.sync()
    for product in await configs.shop.catalogue():
        data = await configs.shop.graphql(
            "mutation($i: ProductSetIdentifiers, $input: ProductSetInput!) { productSet(identifier: $i, "
            "input: $input) { userErrors { message } } }",
            {
                "i": {"id": product["id"]},
                "input": {
                    "metafields": [
                        {
                            "namespace": "custom",
                            "key": "care",
                            "type": "single_line_text_field",
                            "value": "Hand wash",
                        }
                    ]
                },
            },
        )
        assert data["productSet"]["userErrors"] == []
    await configs.pool.execute("UPDATE product_states SET owner_marked = false")
    assert all(product["metafield"] is None for product in await configs.shop.catalogue())
    product_sets = await configs.shop.mutations("productSet")
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert await configs.shop.mutations("productSet") == product_sets
    assert await configs.shop.mutations("metafieldsSet") == 5
    catalogue = await configs.shop.catalogue()
    assert sorted(p["metafield"]["value"] for p in catalogue) == sorted(
        owner_id("acme", f"SKU-{n}") for n in range(1, 6)
    )
    care = await configs.shop.graphql(
        '{ products(first: 10) { nodes { metafield(namespace: "custom", key: "care") { value } } } }'
    )
    assert {node["metafield"]["value"] for node in care["products"]["nodes"]} == {"Hand wash"}
    await feed.sync()
    assert await configs.shop.mutations("metafieldsSet") == 5
