"""Real exports synced end to end: the shop holds the products the feed's shape describes, and a second
run of the same feed writes nothing, whichever way its rows were grouped."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from shop_support import ConfigFeed, Configs

from erpsync.db.pool import create_pool
from erpsync.settings import DatabaseSettings, Settings

CORPUS = Path(__file__).parent / "feeds" / "corpus"
MakeFeed = Callable[[str, str, str, str], Awaitable[ConfigFeed]]


@pytest.fixture
async def corpus_feed(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> AsyncIterator[MakeFeed]:
    pools: list[asyncpg.Pool[Any]] = []

    async def make(family: str, recipe_file: str, feed_file: str, currency: str) -> ConfigFeed:
        """The family's recipe config, reading a copy of its corpus feed from disk."""
        recipe = orjson.loads((CORPUS / family / recipe_file).read_bytes())
        path = tmp_path / feed_file
        shutil.copy(CORPUS / family / feed_file, path)
        fields = {
            key: value
            for key, value in recipe.items()
            if key not in {"id", "name", "connection_type", "credentials"}
        }
        simulator = await start_shopify(currency_code=currency)
        pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=5))
        pools.append(pool)
        feed = await Configs(settings, pool, tmp_path, simulator).add(family, **fields)
        await feed.change(credentials={"filePath": str(path)})
        return feed

    yield make
    for pool in pools:
        await pool.close()


async def _shop(feed: ConfigFeed) -> dict[str, list[str]]:
    """Each product's title and its SKUs, as the merchant's admin lists them."""
    return {
        product["title"]: sorted(variant["sku"] for variant in product["variants"]["nodes"])
        for product in await feed.configs.shop.catalogue()
    }


@pytest.mark.parametrize(
    ("family", "recipe", "expected_file"),
    [
        ("magento", "config.json", "expected.json"),  # children first, listed by their parent
        ("shopify", "config.json", "expected.json"),  # image rows, Default Title, options per product
        ("google", "config_tsv.json", "expected_tsv.json"),  # a group's items apart
        ("nested", "config.json", "expected.json"),  # variants inside each product
    ],
)
async def test_a_real_export_syncs_into_its_products_once(
    corpus_feed: MakeFeed, family: str, recipe: str, expected_file: str
) -> None:
    expected = orjson.loads((CORPUS / family / expected_file).read_bytes())
    # The shop in the feed's currency: prices written "15.00 USD" are checked against it.
    feed = await corpus_feed(family, recipe, expected["feed"], expected["currency"])
    first = await feed.sync()
    assert first.status == "succeeded", first
    wanted = {
        product["title"]: sorted(variant["sku"] for variant in product["variants"])
        for product in expected["products"]
    }
    assert await _shop(feed) == wanted
    assert first.counts["created"] == len(wanted)
    again = await feed.settled()  # the same export once more: nothing to create or update
    assert (again.counts["planned_create"], again.counts["planned_update"]) == (0, 0), again
    assert await _shop(feed) == wanted
