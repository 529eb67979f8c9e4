"""A simulated shop with several configs writing to it, for tests that look at the shop afterwards.

`Configs.add()` makes a config reading its own CSV file (grouped by a parent column into products with a
Size option, or one product per row); `Shop.catalogue()` reads every product back field by field.
"""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr
from support import SIM_TOKEN

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config, update_config
from erpsync.models import SyncConfig
from erpsync.settings import Settings, ShopifySettings, SyncSettings
from erpsync.sync import SyncResult, run_sync

CATALOGUE_QUERY = """
query($after: String) { products(first: 25, after: $after, sortKey: ID) {
  nodes { id handle title status
    metafield(namespace: "$app", key: "erpsync_id") { value }
    variants(first: 10) { nodes { id sku price inventoryQuantity } } }
  pageInfo { hasNextPage endCursor } } }
"""
PRODUCT_SET = (
    "mutation($input: ProductSetInput!) { productSet(input: $input) { "
    "product { id handle variants(first: 50) { nodes { id sku } } } userErrors { field message code } } }"
)
GROUPED_FIELDS = ["parent", "sku", "title", "size", "price", "stock"]
FLAT_FIELDS = ["sku", "title", "price", "stock"]


class Shop:
    """The simulated shop as a test sees it: raw GraphQL, every product, the simulator's counters."""

    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        url = f"{self.simulator.base_url}/admin/api/2026-10/graphql.json"
        headers = {"X-Shopify-Access-Token": SIM_TOKEN}
        async with self.simulator.session.post(
            url, json={"query": query, "variables": variables}, headers=headers
        ) as response:
            body = await response.json()
        assert "errors" not in body, body
        return body["data"]

    async def catalogue(self) -> list[dict[str, Any]]:
        """Every product, in creation order."""
        products: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = (await self.graphql(CATALOGUE_QUERY, {"after": after}))["products"]
            products += page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                return products
            after = page["pageInfo"]["endCursor"]

    async def by_sku(self) -> dict[str, list[dict[str, Any]]]:
        """For each SKU, every product holding it (a shop that duplicates a SKU shows two)."""
        holders: dict[str, list[dict[str, Any]]] = {}
        for product in await self.catalogue():
            for variant in product["variants"]["nodes"]:
                holders.setdefault(variant["sku"], []).append(product)
        return holders

    async def create_by_hand(
        self, *, title: str, handle: str, skus: list[str], price: str = "1.00"
    ) -> dict[str, Any]:
        """A product made in the admin, as a merchant would."""
        values = [f"V{index}" for index in range(len(skus))] if len(skus) > 1 else ["Default Title"]
        option = "Size" if len(skus) > 1 else "Title"
        data = await self.graphql(
            PRODUCT_SET,
            {
                "input": {
                    "title": title,
                    "handle": handle,
                    "status": "ACTIVE",
                    "productOptions": [{"name": option, "values": [{"name": value} for value in values]}],
                    "variants": [
                        {"optionValues": [{"optionName": option, "name": value}], "sku": sku, "price": price}
                        for sku, value in zip(skus, values, strict=True)
                    ],
                }
            },
        )
        assert data["productSet"]["userErrors"] == [], data
        product: dict[str, Any] = data["productSet"]["product"]
        return product

    async def edit_variants_by_hand(
        self, product_id: str, kept: list[dict[str, Any]], sizes: list[str], *, added: tuple[str, str]
    ) -> None:
        """What a merchant does in the admin: keep these variants (dropping the others), add one (SKU, size)."""
        sku, size = added
        variants: list[dict[str, Any]] = [
            {"id": node["id"], "optionValues": [{"optionName": "Size", "name": value}]}
            for node, value in zip(kept, sizes, strict=True)
        ]
        variants.append({"optionValues": [{"optionName": "Size", "name": size}], "sku": sku, "price": "5.00"})
        edit = {
            "productOptions": [{"name": "Size", "values": [{"name": value} for value in [*sizes, size]]}],
            "variants": variants,
        }
        data = await self.graphql(
            "mutation($i: ProductSetIdentifiers, $input: ProductSetInput!) { "
            "productSet(identifier: $i, input: $input) { userErrors { message } } }",
            {"i": {"id": product_id}, "input": edit},
        )
        assert data["productSet"]["userErrors"] == [], data

    async def mutations(self, name: str) -> int:
        stats = await self.simulator.stats()
        return int(stats["mutations"].get(name, 0))


class ConfigFeed:
    """One config and the CSV file it reads."""

    def __init__(self, configs: Configs, config: SyncConfig, path: Path, fields: list[str]) -> None:
        self.configs = configs
        self.config = config
        self.path = path
        self.fields = fields

    @property
    def id(self) -> str:
        return self.config.id

    def write(self, rows: list[dict[str, Any]]) -> None:
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(rows)

    def write_text(self, text: str) -> None:
        self.path.write_text(text, encoding="utf-8")

    async def sync(self, **options: Any) -> SyncResult:
        return await run_sync(self.configs.settings, self.configs.pool, self.id, **options)

    async def settled(self) -> SyncResult:
        """The same feed once more: a real run ends `unchanged` (nothing read, nothing sent); then a dry run,
        which plans in full, shows what the stored state makes of the feed. The dry run's result."""
        again = await self.sync()
        assert again.status == "unchanged", again
        return await self.sync(dry_run=True)

    async def change(self, **fields: Any) -> None:
        """Edit the stored config as `PUT /configs/{id}` does."""
        self.config = SyncConfig.model_validate(
            {**self.config.model_dump(by_alias=True, exclude_none=True), **fields}
        )
        async with self.configs.pool.acquire() as conn:
            await update_config(conn, self.configs.box, self.config)

    async def logs(self, level: str | None = None) -> list[asyncpg.Record]:
        return list(
            await self.configs.pool.fetch(
                "SELECT level, sku, message FROM sync_logs WHERE config_id = $1 AND ($2::text IS NULL OR level = $2) "
                "ORDER BY id",
                self.id,
                level,
            )
        )


class Configs:
    """Configs writing to one simulated shop."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool[Any], tmp_path: Path, simulator: Any) -> None:
        self.settings = settings.model_copy(
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
        self.pool = pool
        self.tmp_path = tmp_path
        self.shop = Shop(simulator)
        self.box = SecretBox(settings.security.secret_key)

    async def add(self, config_id: str, *, grouped: bool = False, **fields: Any) -> ConfigFeed:
        path = self.tmp_path / f"{config_id}.csv"
        mapping: dict[str, str] = {
            "title": "title",
            "variant.sku": "sku",
            "variant.price": "price",
            "variant.inventory_quantity": "stock",
        }
        extra: dict[str, Any] = {}
        if grouped:
            mapping["variant.option1"] = "size"
            extra = {"product_key": "parent", "options": ["Size"]}
        config = SyncConfig.model_validate(
            {
                "id": config_id,
                "name": config_id,
                "connection_type": "file",
                "credentials": {"filePath": str(path)},
                "format": "csv",
                "mapping": mapping,
                **extra,
                **fields,
            }
        )
        async with self.pool.acquire() as conn:
            await insert_config(conn, self.box, config)
        return ConfigFeed(self, config, path, GROUPED_FIELDS if grouped else FLAT_FIELDS)


def flat_rows(
    count: int, *, prefix: str = "SKU", start: int = 1, price: str = "10.00"
) -> list[dict[str, Any]]:
    return [
        {"sku": f"{prefix}-{n}", "title": f"Product {n}", "price": price, "stock": n}
        for n in range(start, start + count)
    ]


def grouped_rows(parents: dict[str, list[str]], *, price: str = "20.00") -> list[dict[str, Any]]:
    """Rows of products keyed by parent, one row per SKU (sizes S, M, L... in order)."""
    sizes = ["S", "M", "L", "XL", "XXL", "3XL"]
    return [
        {
            "parent": parent,
            "sku": sku,
            "title": f"Tee {parent}",
            "size": sizes[index],
            "price": price,
            "stock": 5,
        }
        for parent, skus in parents.items()
        for index, sku in enumerate(skus)
    ]


# What the `make_feed` fixture (conftest.py) hands a test.
MakeFeed = Callable[..., Awaitable[ConfigFeed]]
