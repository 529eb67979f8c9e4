"""Media as Shopify keeps it: images are uploaded once, then sent by their media id.

productSet's `files` replaces a product's media, so an image sent again by URL is a fresh upload (new
media, the old one removed). Whole runs against the simulator, which counts media created and deleted.
"""

from __future__ import annotations

from typing import Any

from shop_support import ConfigFeed, MakeFeed

FIELDS = ["sku", "title", "price", "stock", "images", "variant_image"]
MEDIA_QUERY = """
query($id: ID!) { product(id: $id) { id
  media(first: 50) { nodes { id ... on MediaImage { originalSource { url } } } } } }
"""


async def media_feed(make_feed: MakeFeed, **fields: Any) -> ConfigFeed:
    """`acme` with the image columns in its feed file."""
    feed = await make_feed(**fields)
    feed.fields = FIELDS
    return feed


def image(name: str) -> str:
    return f"https://cdn.example.com/img/{name}.jpg"


def rows(count: int, *, price: str = "10.00", images: int = 2) -> list[dict[str, Any]]:
    return [
        {
            "sku": f"SKU-{n}",
            "title": f"Product {n}",
            "price": price,
            "stock": "5",
            "images": "|".join(image(f"p{n}-{i}") for i in range(images)),
            "variant_image": "",
        }
        for n in range(1, count + 1)
    ]


MAPPING = {
    "title": "title",
    "variant.sku": "sku",
    "variant.price": "price",
    "variant.inventory_quantity": "stock",
    "images": "images",
}


async def media_stats(feed: ConfigFeed) -> dict[str, int]:
    stats = await feed.configs.shop.simulator.stats()
    return dict(stats["media"])


async def shop_media(feed: ConfigFeed) -> dict[str, list[tuple[str, str]]]:
    """Each product's media as (id, source URL), by product id."""
    found: dict[str, list[tuple[str, str]]] = {}
    for product in await feed.configs.shop.catalogue():
        data = await feed.configs.shop.graphql(MEDIA_QUERY, {"id": product["id"]})
        nodes = data["product"]["media"]["nodes"]
        found[product["id"]] = [(node["id"], node["originalSource"]["url"]) for node in nodes]
    return found


async def test_a_price_change_creates_no_media_and_deletes_none(make_feed: MakeFeed) -> None:
    """Three products with two images each: the first run uploads six; a re-sync that changes every
    price sends each image by its media id, so the shop's media stay the same ids."""
    feed = await media_feed(make_feed, mapping=MAPPING)
    feed.write(rows(3))
    first = await feed.sync()
    assert first.status == "succeeded", first
    assert await media_stats(feed) == {"created": 6, "deleted": 0}
    before = await shop_media(feed)
    assert sorted(url for media in before.values() for _, url in media) == sorted(
        image(f"p{n}-{i}") for n in range(1, 4) for i in range(2)
    )

    feed.write(rows(3, price="12.50"))
    second = await feed.sync()
    assert second.status == "succeeded", second
    assert second.counts["updated"] == 3
    assert await media_stats(feed) == {"created": 6, "deleted": 0}
    assert await shop_media(feed) == before


async def test_an_added_image_is_the_only_upload_and_a_dropped_one_is_removed(make_feed: MakeFeed) -> None:
    """The feed swaps one image of a product for another: one media created, one deleted, the
    untouched image keeps its id."""
    feed = await media_feed(make_feed, mapping=MAPPING)
    feed.write(rows(1))
    await feed.sync()
    [(product_id, before)] = (await shop_media(feed)).items()
    changed = rows(1)
    changed[0]["images"] = f"{image('p1-0')}|{image('p1-new')}"
    feed.write(changed)
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert await media_stats(feed) == {"created": 3, "deleted": 1}
    after = (await shop_media(feed))[product_id]
    assert after[0] == before[0]
    assert after[1][1] == image("p1-new")
    assert after[1][0] not in {media_id for media_id, _ in before}


async def test_a_variant_image_is_one_of_the_product_media(make_feed: MakeFeed) -> None:
    """A variant's image rides in `files` as well: it is uploaded once with the product's images and
    neither duplicated nor removed by the next write."""
    feed = await media_feed(make_feed, mapping={**MAPPING, "variant.image": "variant_image"})
    feed.write([{**row, "variant_image": image("v1")} for row in rows(1)])
    await feed.sync()
    assert await media_stats(feed) == {"created": 3, "deleted": 0}
    before = await shop_media(feed)
    feed.write([{**row, "variant_image": image("v1")} for row in rows(1, price="11.00")])
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert await media_stats(feed) == {"created": 3, "deleted": 0}
    assert await shop_media(feed) == before


async def test_media_removed_by_hand_is_uploaded_again_within_the_run(make_feed: MakeFeed) -> None:
    """A merchant deletes the product's media in the admin: the write that sends the stale media ids is
    refused, erpsync forgets them, and the line sent again in the same run uploads the images afresh,
    onto the same product."""
    feed = await media_feed(make_feed, mapping=MAPPING)
    feed.write(rows(1))
    await feed.sync()
    [product_id] = await shop_media(feed)
    data = await feed.configs.shop.graphql(
        "mutation($i: ProductSetIdentifiers, $input: ProductSetInput!) { "
        "productSet(identifier: $i, input: $input) { userErrors { message } } }",
        {"i": {"id": product_id}, "input": {"files": []}},
    )
    assert data["productSet"]["userErrors"] == []
    assert await media_stats(feed) == {"created": 2, "deleted": 2}
    # A price alone is a variant update, which leaves media alone; a title is a productSet with its files.
    changed = rows(1, price="13.00")
    changed[0]["title"] = "Product 1, renamed"
    feed.write(changed)
    healed = await feed.sync()
    assert healed.status == "succeeded", healed
    assert healed.counts["updated"] == 1
    assert healed.counts["failed"] == 0
    assert await media_stats(feed) == {"created": 4, "deleted": 2}
    assert [url for _, url in (await shop_media(feed))[product_id]] == [image("p1-0"), image("p1-1")]
    assert [product["id"] for product in await feed.configs.shop.catalogue()] == [product_id]
    changed[0]["price"] = "14.00"
    feed.write(changed)
    await feed.sync()
    assert await media_stats(feed) == {"created": 4, "deleted": 2}
