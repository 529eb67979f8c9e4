"""Sales channels: created products are published where the config says, archived ones taken off.

Whole runs against the simulator, whose admin stats list the products published on each channel.
"""

from __future__ import annotations

import pytest
from shop_support import ConfigFeed, MakeFeed, flat_rows

from erpsync.publications import DIRECT_LIMIT

UNPUBLISH = (
    "mutation($id: ID!, $input: [PublicationInput!]!) { publishableUnpublish(id: $id, input: $input) { "
    "userErrors { message } } }"
)


async def published(feed: ConfigFeed) -> dict[str, set[str]]:
    """Channel name -> the SKUs of the products published on it."""
    sku_of = {
        product["id"]: product["variants"]["nodes"][0]["sku"]
        for product in await feed.configs.shop.catalogue()
    }
    stats = await feed.configs.shop.simulator.stats()
    return {name: {sku_of[product_id] for product_id in ids} for name, ids in stats["published"].items()}


async def publication_id(feed: ConfigFeed, name: str) -> str:
    data = await feed.configs.shop.graphql("{ publications(first: 10) { nodes { id name } } }")
    [found] = [node["id"] for node in data["publications"]["nodes"] if node["name"] == name]
    return str(found)


async def test_created_products_are_published_on_the_online_store_by_default(make_feed: MakeFeed) -> None:
    """Three new products appear on the Online Store (not on Point of Sale), one call each; a later
    price change publishes nothing again, and a product the merchant took off stays off."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["published"] == 3
    assert result.counts["published_failed"] == 0
    everything = {"SKU-1", "SKU-2", "SKU-3"}
    assert await published(feed) == {"Online Store": everything, "Point of Sale": set()}
    assert await feed.configs.shop.mutations("publishablePublish") == 3
    assert (await feed.configs.shop.simulator.stats())["bulk_operations"]["MUTATION"] == 1

    [first] = (await feed.configs.shop.by_sku())["SKU-1"]
    online = await publication_id(feed, "Online Store")
    data = await feed.configs.shop.graphql(
        UNPUBLISH, {"id": first["id"], "input": [{"publicationId": online}]}
    )
    assert data["publishableUnpublish"]["userErrors"] == []
    feed.write(flat_rows(3, price="30.00"))
    again = await feed.sync()
    assert again.counts["updated"] == 3
    assert "published" not in again.counts
    assert await published(feed) == {"Online Store": everything - {"SKU-1"}, "Point of Sale": set()}
    assert await feed.configs.shop.mutations("publishablePublish") == 3


async def test_many_created_products_are_published_in_one_bulk_operation(make_feed: MakeFeed) -> None:
    """Past `DIRECT_LIMIT` products, publishing is one bulk mutation of publishablePublish lines."""
    count = DIRECT_LIMIT + 10
    feed = await make_feed()
    feed.write(flat_rows(count))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["published"] == count
    assert len((await published(feed))["Online Store"]) == count
    stats = await feed.configs.shop.simulator.stats()
    assert stats["bulk_operations"]["MUTATION"] == 2
    assert stats["mutations"]["publishablePublish"] == count
    assert len(await feed.configs.shop.catalogue()) == count


async def test_products_go_on_every_named_channel(make_feed: MakeFeed) -> None:
    """A config naming two channels: each created product is on both."""
    feed = await make_feed(publications=["Online Store", "Point of Sale"])
    feed.write(flat_rows(2))
    result = await feed.sync()
    assert result.counts["published"] == 2
    assert await published(feed) == {"Online Store": {"SKU-1", "SKU-2"}, "Point of Sale": {"SKU-1", "SKU-2"}}


async def test_an_empty_list_publishes_nowhere_and_asks_nothing(make_feed: MakeFeed) -> None:
    """`publications: []`: products are created and published nowhere, with no publishing request."""
    feed = await make_feed(publications=[])
    feed.write(flat_rows(2))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["created"] == 2
    assert not any((await published(feed)).values())
    stats = await feed.configs.shop.simulator.stats()
    assert "publishablePublish" not in stats["mutations"]
    assert stats["bulk_operations"]["MUTATION"] == 1


async def test_an_unknown_channel_fails_the_run_before_any_write(make_feed: MakeFeed) -> None:
    """A typo in the channel's name: one clear line naming it and the shop's channels, no product made."""
    feed = await make_feed(publications=["Online Store", "Wholesale"])
    feed.write(flat_rows(2))
    result = await feed.sync()
    assert result.status == "failed"
    assert result.error is not None
    assert "sales channel 'Wholesale' not found in the shop" in result.error
    assert "'Online Store', 'Point of Sale'" in result.error
    assert "\n" not in result.error
    assert await feed.configs.shop.catalogue() == []


@pytest.mark.parametrize(("policy", "status"), [("archive", "ARCHIVED"), ("draft", "DRAFT")])
async def test_archived_products_are_unpublished_and_published_again_when_they_return(
    make_feed: MakeFeed, policy: str, status: str
) -> None:
    """Delete policy `archive` (or `draft`): the product that left the feed is ARCHIVED (DRAFT) and off
    the Online Store; back in the feed, it is ACTIVE and on the Online Store again. Never deleted, never
    duplicated."""
    feed = await make_feed(delete_policy=policy, max_delete_fraction=1.0)
    feed.write(flat_rows(3))
    await feed.sync()
    feed.write(flat_rows(2))
    removed = await feed.sync()
    assert removed.status == "succeeded", removed
    assert removed.counts["unpublished"] == 1
    statuses = {p["variants"]["nodes"][0]["sku"]: p["status"] for p in await feed.configs.shop.catalogue()}
    assert statuses == {"SKU-1": "ACTIVE", "SKU-2": "ACTIVE", "SKU-3": status}
    assert (await published(feed))["Online Store"] == {"SKU-1", "SKU-2"}

    feed.write(flat_rows(3))
    back = await feed.sync()
    assert back.status == "succeeded", back
    assert back.counts["published"] == 1
    statuses = {p["variants"]["nodes"][0]["sku"]: p["status"] for p in await feed.configs.shop.catalogue()}
    assert statuses == {"SKU-1": "ACTIVE", "SKU-2": "ACTIVE", "SKU-3": "ACTIVE"}
    assert (await published(feed))["Online Store"] == {"SKU-1", "SKU-2", "SKU-3"}
    assert (await feed.configs.shop.simulator.stats())["mutations"].get("productDelete", 0) == 0
