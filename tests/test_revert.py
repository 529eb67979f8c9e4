"""Reverting a run (issue 18, acceptance 4 and the revert case of 5): `erpsync runs revert RUN_ID` and
`POST /runs/{id}/revert` build the inverse of a finished run from its journal and run it as an ordinary run
of the config; products changed since by a later run or in the shop are left alone and named. Whole runs
against PostgreSQL and the simulator, the shop read back afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from graphql import parse, validate
from shop_support import ConfigFeed, MakeFeed
from support import API_TOKEN

from erpsync.api.app import init_app

from erpsync.db.changes import run_changes
from erpsync.db.runs import get_run
from erpsync.run_result import SyncResult
from erpsync.shopify.product_fields import WHOLE_SHOP, product_fields_query
from shopify_simulator.schema import load_schema

Client = TestClient[Any, Any]
SIZES = ["S", "M", "L"]


def tee(
    parent: str, sizes: list[str], *, title: str | None = None, price: str = "20.00"
) -> list[dict[str, Any]]:
    """The rows of one product: one variant per size, SKU `{parent}-{size}`."""
    return [
        {"parent": parent, "sku": f"{parent}-{size}", "title": title or f"Tee {parent}", "size": size,
         "price": price, "stock": 5}
        for size in sizes
    ]  # fmt: skip


def catalogue_rows(**edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Products A…H with sizes S and M; `edits` replace a product's rows (an empty list drops it)."""
    rows: list[dict[str, Any]] = []
    for parent in "ABCDEFGH":
        rows += edits.pop(parent, tee(parent, SIZES[:2]))
    for extra in edits.values():
        rows += extra
    return rows


async def snapshot(feed: ConfigFeed) -> dict[str, Any]:
    """The shop as a merchant sees it, by erpsync's custom id (a product created again keeps it): handle,
    title, status and each variant's SKU, price and stock; hand-made products by their id."""
    found: dict[str, Any] = {}
    for product in await feed.configs.shop.catalogue():
        key = (product["metafield"] or {}).get("value") or product["id"]
        assert key not in found, f"two products carry {key}"
        variants = [(v["sku"], v["price"], v["inventoryQuantity"]) for v in product["variants"]["nodes"]]
        found[key] = (product["handle"], product["title"], product["status"], variants)
    return found


async def skus_in_shop(feed: ConfigFeed) -> dict[str, int]:
    """How many products hold each SKU."""
    return {sku: len(holders) for sku, holders in (await feed.configs.shop.by_sku()).items()}


async def revert(feed: ConfigFeed, run_id: int, **options: Any) -> SyncResult:
    from erpsync.revert import check_revertible

    target = await check_revertible(feed.configs.pool, run_id)
    assert target.config_id == feed.id
    return await feed.sync(trigger="revert", reverts_run_id=run_id, **options)


def skipped(result: SyncResult) -> dict[str, str]:
    return {skip["product_key"]: skip["reason"] for skip in result.counts["revert_skips"]}


async def test_revert_puts_the_shop_back_as_it_was_before_the_run(make_feed: MakeFeed) -> None:
    """A run that changed a price (A), a title (B), added a variant (C), removed one (D), deleted a product
    (H) and created one (I) is reverted: the shop is field by field as before that run — titles, prices,
    variants and their stock, handles — H is back under erpsync's custom id (no second product holds its
    SKUs), I is gone. The price goes back as a variant update, the revert is a run of its own (trigger
    `revert`, naming the run) with its own journal."""
    feed = await make_feed(grouped=True)
    feed.write(catalogue_rows())
    first = await feed.sync()
    assert first.status == "succeeded", first
    before = await snapshot(feed)
    feed.write(
        catalogue_rows(
            A=tee("A", SIZES[:2], price="25.00"),
            B=tee("B", SIZES[:2], title="Renamed tee"),
            C=tee("C", SIZES),
            D=tee("D", SIZES[:1]),
            H=[],
            I=tee("I", SIZES[:2]),
        )
    )
    changed = await feed.sync()
    assert changed.status == "succeeded", changed
    assert (changed.counts["created"], changed.counts["updated"], changed.counts["deleted"]) == (1, 4, 1)
    assert await snapshot(feed) != before
    stats = await feed.configs.shop.simulator.stats()

    result = await revert(feed, changed.run_id)

    assert result.status == "succeeded", result
    assert result.counts["revert_skipped"] == 0, result.counts
    assert (result.counts["created"], result.counts["updated"], result.counts["deleted"]) == (1, 4, 1)
    assert await snapshot(feed) == before
    assert all(count == 1 for count in (await skus_in_shop(feed)).values())
    assert "I-S" not in await skus_in_shop(feed)
    after = await feed.configs.shop.simulator.stats()
    variant_updates = after["bulk_mutations"].get("productVariantsBulkUpdate", 0) - stats[
        "bulk_mutations"
    ].get("productVariantsBulkUpdate", 0)
    assert variant_updates == 1  # A's price alone
    row = await get_run(feed.configs.pool, result.run_id)
    assert row is not None
    assert (row.trigger, row.reverts_run_id, row.status) == ("revert", changed.run_id, "succeeded")
    journal = await run_changes(feed.configs.pool, result.run_id, limit=100)
    assert sorted((change.action, change.product_key, change.result) for change in journal) == [
        ("create", "H", "ok"),
        ("delete", "I", "ok"),
        ("update", "A", "ok"),
        ("update", "B", "ok"),
        ("update", "C", "ok"),
        ("update", "D", "ok"),
    ]
    price = next(change for change in journal if change.product_key == "A")
    assert price.changes == [
        {"field": "variants[A-M].price", "before": "25.00", "after": "20.00"},
        {"field": "variants[A-S].price", "before": "25.00", "after": "20.00"},
    ]


def test_product_fields_query_is_valid() -> None:
    """The read of products' fields validates against the 2026-10 schema, by ids and for the whole shop."""
    schema = load_schema()
    for search in ("id:1 OR id:2", WHOLE_SHOP):
        assert validate(schema, parse(product_fields_query(search))) == []


async def two_runs(feed: ConfigFeed, **second: list[dict[str, Any]]) -> tuple[SyncResult, SyncResult]:
    """The catalogue A…H, then the same with `second`'s edits: both runs succeed."""
    feed.write(catalogue_rows())
    first = await feed.sync()
    assert first.status == "succeeded", first
    feed.write(catalogue_rows(**second))
    changed = await feed.sync()
    assert changed.status == "succeeded", changed
    return first, changed


def prices(found: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """SKU -> (title, price) over a snapshot."""
    return {sku: (title, price) for _, title, _, variants in found.values() for sku, price, _ in variants}


async def test_revert_after_a_later_run_skips_exactly_what_that_run_touched(make_feed: MakeFeed) -> None:
    """Run 2 changed A's and B's prices and C's title; run 3 changed B's price again. Reverting run 2
    reverts A and C and leaves B as run 3 wrote it, named with the run that changed it since, in the
    result and the run's log."""
    feed = await make_feed(grouped=True)
    changes = {"A": tee("A", SIZES[:2], price="25.00"), "B": tee("B", SIZES[:2], price="25.00")}
    _, reverted = await two_runs(feed, **changes, C=tee("C", SIZES[:2], title="Renamed tee"))
    changes["B"] = tee("B", SIZES[:2], price="30.00")
    feed.write(catalogue_rows(**changes, C=tee("C", SIZES[:2], title="Renamed tee")))
    later = await feed.sync()
    assert later.status == "succeeded", later
    assert later.counts["updated"] == 1

    result = await revert(feed, reverted.run_id)

    assert result.status == "succeeded", result
    assert skipped(result) == {"B": f"changed since by run {later.run_id}"}
    assert result.counts["revert_skipped"] == 1
    shop = prices(await snapshot(feed))
    assert shop["A-S"] == shop["A-M"] == ("Tee A", "20.00")
    assert shop["B-S"] == shop["B-M"] == ("Tee B", "30.00")
    assert shop["C-S"] == ("Tee C", "20.00")
    assert (result.counts["updated"], result.counts["created"], result.counts["deleted"]) == (2, 0, 0)
    logged = [(row["sku"], row["message"]) for row in await feed.logs("warning")]
    assert ("B-S", f"product B (SKU B-S, B-M) not reverted: changed since by run {later.run_id}") in logged


async def test_products_edited_in_the_shop_since_are_left_alone(make_feed: MakeFeed) -> None:
    """After run 2 (A's and B's prices, H deleted), a merchant retitles B in the admin and makes a product
    of their own holding H's SKU H-S. Reverting run 2 puts A's price back, leaves B as the merchant left it
    (named with the field edited) and does not create H beside the merchant's product: no SKU is on two
    products."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(
        feed, A=tee("A", SIZES[:2], price="25.00"), B=tee("B", SIZES[:2], price="25.00"), H=[]
    )
    shop = feed.configs.shop
    b_id = next(p["id"] for p in await shop.catalogue() if p["variants"]["nodes"][0]["sku"] == "B-S")
    data = await shop.graphql(
        "mutation($i: ProductSetIdentifiers, $input: ProductSetInput!) { "
        "productSet(identifier: $i, input: $input) { userErrors { message } } }",
        {"i": {"id": b_id}, "input": {"title": "Merchant's tee"}},
    )
    assert data["productSet"]["userErrors"] == []
    mine = await shop.create_by_hand(title="Hand-made", handle="hand-made", skus=["H-S"])

    result = await revert(feed, changed.run_id)

    assert result.status == "succeeded", result
    reasons = skipped(result)
    assert sorted(reasons) == ["B", "H"]
    assert reasons["B"].startswith("edited in the shop since run ")
    assert "title: 'Tee B' written, \"Merchant's tee\" in the shop" in reasons["B"]
    assert (
        reasons["H"] == f"SKU H-S is on product {mine['id']} in the shop now: it is not created a second time"
    )
    found = prices(await snapshot(feed))
    assert found["A-S"] == ("Tee A", "20.00")
    assert found["B-S"] == ("Merchant's tee", "25.00")
    assert found["H-S"] == ("Hand-made", "1.00")
    assert "H-M" not in found
    assert all(count == 1 for count in (await skus_in_shop(feed)).values())


@pytest.fixture
async def api_for() -> AsyncIterator[Any]:
    """A real API server on 127.0.0.1 over a feed's settings (its shop and work directory)."""
    clients: list[Client] = []

    async def make(feed: ConfigFeed) -> Client:
        server = TestServer(init_app(feed.configs.settings), host="127.0.0.1")
        client = TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"})
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def store_state(feed: ConfigFeed) -> list[Any]:
    """What erpsync keeps: its runs, and each product's last-written input and hash."""
    pool = feed.configs.pool
    runs = await pool.fetch("SELECT id, status FROM sync_runs ORDER BY id")
    states = await pool.fetch(
        "SELECT product_key, content_hash, written, state FROM product_states ORDER BY 1"
    )
    return [list(map(tuple, runs)), list(map(tuple, states))]


def written_counts(stats: dict[str, Any]) -> tuple[Any, ...]:
    """Every count of the simulator that a write moves (an export, `bulkOperationRunQuery`, only reads)."""
    mutations = {name: count for name, count in stats["mutations"].items() if name != "bulkOperationRunQuery"}
    return (mutations, stats["bulk_mutations"], stats["bulk_operations"]["MUTATION"], stats["uploads"])


async def test_dry_run_shows_the_revert_and_writes_nothing(make_feed: MakeFeed, api_for: Any) -> None:
    """`--dry-run` (and `?dry_run=true`) answer what the revert would create, update (each field before →
    after, with the mutation) and remove, and what it leaves alone; the shop's products, the simulator's
    write counts, erpsync's runs and tracked state are the same before and after."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(
        feed,
        A=tee("A", SIZES[:2], price="25.00"),
        B=tee("B", SIZES[:2], price="25.00"),
        H=[],
        I=tee("I", ["S"]),
    )
    feed.write(catalogue_rows(B=tee("B", SIZES[:2], price="30.00"), A=tee("A", SIZES[:2], price="25.00"), H=[],
                              I=tee("I", ["S"])))  # fmt: skip
    later = await feed.sync()
    shop_before, store_before = await snapshot(feed), await store_state(feed)
    stats_before = await feed.configs.shop.simulator.stats()

    result = await revert(feed, changed.run_id, dry_run=True)
    client = await api_for(feed)
    response = await client.post(f"/runs/{changed.run_id}/revert?dry_run=true")
    body = await response.json()

    assert result.status == "dry_run", result
    assert result.details is not None
    products = {
        action: [item["product_key"] for item in items]
        for action, items in result.details["products"].items()
    }
    assert products == {"update": ["A"], "create": ["H"], "delete": ["I"]}
    assert result.details["updates"] == [
        {"product_key": "A", "write_kind": "variants", "changes": [
            {"field": "variants[A-M].price", "before": "25.00", "after": "20.00"},
            {"field": "variants[A-S].price", "before": "25.00", "after": "20.00"},
        ]}
    ]  # fmt: skip
    assert result.details["skipped"] == [
        {"product_key": "B", "skus": ["B-S", "B-M"], "reason": f"changed since by run {later.run_id}"}
    ]
    assert response.status == 200, body
    assert (body["status"], body["reverts_run_id"], body["details"]["skipped"]) == (
        "dry_run",
        changed.run_id,
        result.details["skipped"],
    )
    assert body["details"]["products"] == result.details["products"]
    assert await snapshot(feed) == shop_before
    assert await store_state(feed) == store_before
    assert written_counts(await feed.configs.shop.simulator.stats()) == written_counts(stats_before)


async def test_delete_guard_holds_a_revert_that_would_remove_too_much(make_feed: MakeFeed) -> None:
    """Reverting the first run would delete the 7 products it created that no run changed since: the guard
    holds the removals back (`needs_attention`, the reason in one line, each held product journalled), the
    shop keeps all 8; once allowed (`--allow-mass-delete`) the revert removes them."""
    feed = await make_feed(grouped=True)
    first, _ = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"))
    before = await snapshot(feed)

    held = await revert(feed, first.run_id)

    assert held.status == "needs_attention", held
    assert held.error == "would delete 7 of 8 products (88%) > 20%"
    assert skipped(held) == {"A": f"changed since by run {first.run_id + 1}"}
    assert await snapshot(feed) == before
    journal = await run_changes(feed.configs.pool, held.run_id, limit=100)
    assert {(change.action, change.result) for change in journal} == {("held", "skipped")}
    assert len(journal) == 7

    allowed = await revert(feed, first.run_id, allow_mass_delete=True)

    assert allowed.status == "succeeded", allowed
    assert allowed.counts["deleted"] == 7
    assert [sku for sku in await skus_in_shop(feed)] == ["A-S", "A-M"]


async def test_created_products_are_archived_under_the_archive_policy(make_feed: MakeFeed) -> None:
    """With `delete_policy: archive` the products the reverted run created are archived, not deleted; with
    `ignore` they are kept and named."""
    feed = await make_feed(grouped=True, delete_policy="archive")
    _, changed = await two_runs(feed, I=tee("I", SIZES[:2]))

    result = await revert(feed, changed.run_id)

    assert result.status == "succeeded", result
    statuses = {entry[3][0][0]: entry[2] for entry in (await snapshot(feed)).values()}
    assert statuses["I-S"] == "ARCHIVED"
    assert sum(status == "ACTIVE" for status in statuses.values()) == 8
    feed.write(catalogue_rows(J=tee("J", ["S"])))
    created = await feed.sync()
    await feed.change(delete_policy="ignore")
    kept = await revert(feed, created.run_id)
    assert kept.status == "succeeded", kept
    assert skipped(kept) == {
        "J": f"the config's delete_policy is ignore: what run {created.run_id} created is kept"
    }
    assert "J-S" in await skus_in_shop(feed)


async def test_next_sync_after_a_revert(make_feed: MakeFeed) -> None:
    """After a revert the same feed ends `unchanged` and the shop stays reverted; a changed feed is applied
    as usual, the reverted products included where it still differs from them."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"))
    reverted = await revert(feed, changed.run_id)
    assert reverted.status == "succeeded", reverted

    same = await feed.sync()

    assert same.status == "unchanged", same
    assert prices(await snapshot(feed))["A-S"] == ("Tee A", "20.00")
    feed.write(catalogue_rows(A=tee("A", SIZES[:2], price="25.00"), E=tee("E", SIZES[:2], title="New E")))
    again = await feed.sync()
    assert again.status == "succeeded", again
    assert again.counts["updated"] == 2
    shop = prices(await snapshot(feed))
    assert (shop["A-S"], shop["E-S"]) == (("Tee A", "25.00"), ("New E", "20.00"))
