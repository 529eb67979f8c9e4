"""Reverting a run (issue 18, acceptance 4 and the revert case of 5): `erpsync runs revert RUN_ID` and
`POST /runs/{id}/revert` build the inverse of a finished run from its journal and run it as an ordinary run
of the config; products changed since by a later run or in the shop are left alone and named. Whole runs
against PostgreSQL and the simulator, the shop read back afterwards (the CLI, the API and refusals:
`test_revert_entry_points.py`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse, validate
from revert_support import (
    SIZES,
    catalogue_rows,
    prices,
    revert,
    skipped,
    skus_in_shop,
    snapshot,
    tee,
    two_runs,
)
from shop_support import MakeFeed

from erpsync.db.changes import run_changes
from erpsync.db.runs import get_run
from erpsync.resume import resume_abandoned_runs
from erpsync.run_result import SyncResult
from erpsync.shopify.product_fields import WHOLE_SHOP, product_fields_query
from shopify_simulator.schema import load_schema


async def test_revert_puts_the_shop_back_as_it_was_before_the_run(make_feed: MakeFeed) -> None:
    """A run that changed a price (A), a title (B), added a variant (C), removed one (D), deleted a product
    (H) and created one (I) is reverted: the shop is field by field as before that run — titles, prices,
    variants and their stock, handles — H is back under erpsync's custom id (no second product holds its
    SKUs) and on the Online Store, I is gone. The price goes back as a variant update, the revert is a run of its own (trigger
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
    # H, created again, is published where it was: every product of the shop is on the Online Store.
    assert sorted(after["published"]["Online Store"]) == sorted(
        p["id"] for p in await feed.configs.shop.catalogue()
    )
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


@pytest.mark.parametrize("lookup_limit", [200, 1], ids=["id-search", "whole-shop-export"])
async def test_products_edited_in_the_shop_since_are_left_alone(
    make_feed: MakeFeed, lookup_limit: int
) -> None:
    """After run 2 (A's and B's prices, H deleted), a merchant retitles B in the admin and makes a product
    of their own holding H's SKU H-S. Reverting run 2 puts A's price back, leaves B as the merchant left it
    (named with the field edited) and does not create H beside the merchant's product: no SKU is on two
    products. The shop is read by `id:` searches, or past `sku_lookup_limit` by one export of it all."""
    feed = await make_feed(grouped=True, sync={"sku_lookup_limit": lookup_limit})
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
    assert list(await skus_in_shop(feed)) == ["A-S", "A-M"]


async def test_archive_policy_archives_what_the_run_created_and_brings_back_what_it_archived(
    make_feed: MakeFeed,
) -> None:
    """With `delete_policy: archive`, run 2 archived H and created I; its revert archives I (not deleted,
    taken off the Online Store) and writes H back active, on the Online Store again. With `ignore` the
    products a reverted run created are kept, and named."""
    feed = await make_feed(grouped=True, delete_policy="archive")
    _, changed = await two_runs(feed, H=[], I=tee("I", SIZES[:2]))
    assert changed.counts["deleted"] == 1  # H archived

    result = await revert(feed, changed.run_id)

    assert result.status == "succeeded", result
    found = await feed.configs.shop.catalogue()
    by_sku = {product["variants"]["nodes"][0]["sku"]: product for product in found}
    assert (by_sku["H-S"]["status"], by_sku["I-S"]["status"]) == ("ACTIVE", "ARCHIVED")
    assert sum(product["status"] == "ACTIVE" for product in found) == 8
    online = set((await feed.configs.shop.simulator.stats())["published"]["Online Store"])
    assert by_sku["H-S"]["id"] in online
    assert by_sku["I-S"]["id"] not in online
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


async def test_a_revert_stopped_while_publishing_is_finished_by_the_next_start(make_feed: MakeFeed) -> None:
    """A revert cancelled while its bulk operations run (a shutdown) is left `running` with its operations
    stored; the next start polls them and records the revert once: the shop ends as before the reverted
    run, nothing sent twice."""
    feed = await make_feed(grouped=True)
    feed.write(catalogue_rows())
    assert (await feed.sync()).status == "succeeded"
    before = await snapshot(feed)
    feed.write(catalogue_rows(A=tee("A", SIZES[:2], price="25.00"), H=[]))
    changed = await feed.sync()
    sent = (await feed.configs.shop.simulator.stats())["bulk_operations"]["MUTATION"]
    task: asyncio.Task[SyncResult] | None = None

    async def stop(values: dict[str, Any]) -> None:
        if values.get("bulk_lines_total") and task is not None:
            task.cancel()

    task = asyncio.ensure_future(revert(feed, changed.run_id, on_progress=stop))
    with pytest.raises(asyncio.CancelledError):
        await task
    run_id = int(await feed.configs.pool.fetchval("SELECT max(id) FROM sync_runs"))
    stopped = await get_run(feed.configs.pool, run_id)
    assert stopped is not None
    assert (stopped.status, stopped.stage, stopped.reverts_run_id) == ("running", "publish", changed.run_id)
    assert any(entry["id"] for entry in stopped.bulk_operations)  # started before the stop

    assert await resume_abandoned_runs(feed.configs.settings, feed.configs.pool) == [run_id]

    finished = await get_run(feed.configs.pool, run_id)
    assert finished is not None
    assert (finished.status, finished.trigger) == ("succeeded", "revert")
    # Each of the revert's files went to the shop once, over the stop and the resume.
    operations = (await feed.configs.shop.simulator.stats())["bulk_operations"]["MUTATION"] - sent
    assert operations == len(finished.bulk_operations) == 2
    assert await snapshot(feed) == before
    journal = await run_changes(feed.configs.pool, run_id, limit=100)
    assert sorted((change.action, change.product_key, change.result) for change in journal) == [
        ("create", "H", "ok"),
        ("update", "A", "ok"),
    ]


async def test_a_revert_can_be_reverted(make_feed: MakeFeed) -> None:
    """A revert is a run with a journal of its own: reverting it puts the reverted run's changes back —
    A's price, H deleted, I created again — and the shop is as that run left it."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"), H=[], I=tee("I", SIZES[:2]))
    after_run = await snapshot(feed)
    undone = await revert(feed, changed.run_id)
    assert undone.status == "succeeded", undone

    redone = await revert(feed, undone.run_id)

    assert redone.status == "succeeded", redone
    assert redone.counts["revert_skipped"] == 0
    assert await snapshot(feed) == after_run


async def test_products_journalled_before_reverts_existed_are_skipped(make_feed: MakeFeed) -> None:
    """A journal row without the state from before its run (written before `sql/0015_revert.sql`) cannot be
    put back: the updated and the deleted product are named as such and left as they are; the created one,
    which needs no earlier state, is removed."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"), H=[], I=tee("I", SIZES[:2]))
    await feed.configs.pool.execute(
        "UPDATE run_changes SET written_before = NULL, hash_before = NULL WHERE run_id = $1", changed.run_id
    )

    result = await revert(feed, changed.run_id)

    assert result.status == "succeeded", result
    reason = f"the journal of run {changed.run_id} keeps no state from before it (journalled before reverts existed)"
    assert skipped(result) == {"A": reason, "H": reason}
    found = await skus_in_shop(feed)
    assert ("H-S" in found, "I-S" in found) == (False, False)
    assert prices(await snapshot(feed))["A-S"] == ("Tee A", "25.00")
