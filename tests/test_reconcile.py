"""The full reconcile (issue 18, acceptance 2 and 5): one bulk export of the whole shop settles what the
incremental drift check cannot see — a product missing from the shop, variants added or removed by hand,
field drift on every owned product, one SKU on two shop products, a handle an unrelated product holds —
and the run goes on as an ordinary run. `erpsync reconcile ID [--dry-run]` and `reconcile_every`.
Whole runs against PostgreSQL and the simulator, the shop read afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from shop_support import ConfigFeed, MakeFeed, flat_rows, grouped_rows
from support import erpsync_awaited, erpsync_env
from test_drift import PRODUCT_DELETE, aged, edit_price, first_sync, holder, prices

from erpsync.db.changes import run_changes
from erpsync.scheduler import Scheduler, reconcile_due


async def out_of_every_window(feed: ConfigFeed) -> None:
    """The known gap of the incremental check, made on purpose: the last run ends, as far as the next
    window is concerned, after the hand edits just made (a long run that wrote these products earlier
    and ended more than the overlap after the edits)."""
    await feed.configs.pool.execute(
        "UPDATE sync_runs SET finished_at = now() + interval '5 minutes' WHERE config_id = $1", feed.id
    )


async def findings(feed: ConfigFeed) -> list[tuple[str, str, str]]:
    rows = await feed.configs.pool.fetch(
        "SELECT kind, field, action FROM drift_findings WHERE state = 'open' ORDER BY kind, field"
    )
    return [(row["kind"], row["field"], row["action"]) for row in rows]


async def test_a_reconcile_settles_what_the_window_missed(make_feed: MakeFeed) -> None:
    """A product deleted and a price edited by hand, out of every window: the ordinary run sees neither;
    `erpsync reconcile --dry-run` shows the create and the update and writes nothing; `erpsync reconcile`
    creates the product again (once, by its custom ID) and writes the price back by a variant update."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(3))
    doomed = await holder(feed, "SKU-2")
    await feed.configs.shop.graphql(PRODUCT_DELETE, {"id": doomed["id"]})
    await edit_price(feed, "SKU-3", "1.00")
    await out_of_every_window(feed)
    blind = await feed.sync()
    assert blind.status == "unchanged", blind
    assert await prices(feed) == {"SKU-1": "10.00", "SKU-3": "1.00"}
    env = erpsync_env(
        feed.configs.settings, feed.configs.tmp_path, shop_url=feed.configs.shop.simulator.base_url
    )
    dry = await erpsync_awaited(env, "reconcile", feed.id, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert '"create": 1' in dry.stdout
    assert '"update": 1' in dry.stdout
    assert await prices(feed) == {"SKU-1": "10.00", "SKU-3": "1.00"}
    assert await feed.configs.pool.fetchval("SELECT count(*) FROM drift_findings") == 0
    sets = await feed.configs.shop.mutations("productSet")
    done = await erpsync_awaited(env, "reconcile", feed.id)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.startswith("run "), done.stdout
    assert "reconcile: 1 product(s) edited in the shop (1 field(s)), 1 deleted; written back 2" in done.stdout
    assert await prices(feed) == {"SKU-1": "10.00", "SKU-2": "10.00", "SKU-3": "10.00"}
    assert len(await feed.configs.shop.catalogue()) == 3
    assert (await holder(feed, "SKU-2"))["metafield"] == doomed["metafield"]
    assert (
        await feed.configs.shop.mutations("productSet") == sets + 1
    )  # the create; the price by variant update
    run = await feed.configs.pool.fetchrow(
        "SELECT id, reconcile, status FROM sync_runs ORDER BY id DESC LIMIT 1"
    )
    assert (run["reconcile"], run["status"]) == (True, "succeeded")
    actions = sorted((c.action, c.result) for c in await run_changes(feed.configs.pool, run["id"]))
    assert actions == [("create", "ok"), ("drift", "ok"), ("drift", "ok"), ("update", "ok")]
    assert await findings(feed) == []
    aged(feed)
    assert (await feed.sync()).status == "unchanged"


async def test_many_products_missing_are_held_back_until_allowed(make_feed: MakeFeed) -> None:
    """Six of ten owned products gone from the export (60% > `max_delete_fraction`): the reconcile creates
    none of them again and says why in one line; `allow_mass_delete` settles them once, one product each."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(10))
    for sku in ("SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5", "SKU-6"):
        await feed.configs.shop.graphql(PRODUCT_DELETE, {"id": (await holder(feed, sku))["id"]})
    await out_of_every_window(feed)
    held = await feed.sync(reconcile=True)
    assert held.status == "unchanged", held
    assert held.counts["reconcile"]["missing_held_back"] == 6
    assert len(await feed.configs.shop.catalogue()) == 4
    errors = [row["message"] for row in await feed.logs("error")]
    assert errors == [
        "reconcile: the shop's export lacks 6 of the 10 products this config owns (more than 20%): not "
        "settled; --allow-mass-delete settles them once"
    ]
    allowed = await feed.sync(reconcile=True, allow_mass_delete=True)
    assert (allowed.status, allowed.counts["created"]) == ("succeeded", 6)
    assert sorted(await feed.configs.shop.by_sku()) == sorted(f"SKU-{n}" for n in range(1, 11))
    assert len(await feed.configs.shop.catalogue()) == 10


@pytest.mark.parametrize("policy", ["overwrite", "report"])
async def test_a_reconcile_finds_variants_added_and_removed_by_hand(make_feed: MakeFeed, policy: str) -> None:
    """Out of every window a merchant drops A-M and adds HAND-XS: the reconcile restores the feed's
    variants (`overwrite`) or reports both and leaves the product (`report`)."""
    feed = await make_feed(grouped=True, drift_policy=policy)
    await first_sync(feed, grouped_rows({"P1": ["A-S", "A-M", "A-L"], "P2": ["B-S"]}))
    product = await holder(feed, "A-S")
    kept = [node for node in product["variants"]["nodes"] if node["sku"] != "A-M"]
    await feed.configs.shop.edit_variants_by_hand(product["id"], kept, ["S", "L"], added=("HAND-XS", "XS"))
    await out_of_every_window(feed)
    assert (await feed.sync()).status == "unchanged"
    result = await feed.sync(reconcile=True)
    counts = result.counts["reconcile"]
    assert (counts["variants_added"], counts["variants_removed"], counts["shop_products"]) == (1, 1, 2)
    skus = sorted(v["sku"] for v in (await holder(feed, "A-S"))["variants"]["nodes"])
    if policy == "overwrite":
        assert result.status == "succeeded", result
        assert skus == ["A-L", "A-M", "A-S"]
        assert await findings(feed) == []
    else:
        assert result.status == "unchanged", result
        assert skus == ["A-L", "A-S", "HAND-XS"]
        assert await findings(feed) == [
            ("field", "productOptions", "reported"),
            ("variant_added", "variants[HAND-XS]", "reported"),
            ("variant_removed", "variants[A-M]", "reported"),
        ]


async def test_one_sku_on_two_shop_products_is_reported_never_touched_never_adopted(
    make_feed: MakeFeed,
) -> None:
    """A merchant makes a second product with erpsync's SKU-1, and two products of their own with NEW-1,
    which the feed then brings: the reconcile reports SKU-1 on two products and touches neither; NEW-1 is
    neither adopted nor created beside them (a conflict naming both); the config's product stays its."""
    feed = await make_feed()
    await first_sync(feed, flat_rows(2))
    ours = await holder(feed, "SKU-1")
    shop = feed.configs.shop
    copycat = await shop.create_by_hand(title="Copycat", handle="copycat", skus=["SKU-1"], price="4.00")
    twins = [
        await shop.create_by_hand(title=f"Twin {n}", handle=f"twin-{n}", skus=["NEW-1"], price="2.00")
        for n in (1, 2)
    ]
    feed.write([*flat_rows(2), {"sku": "NEW-1", "title": "New", "price": "9.00", "stock": 1}])
    result = await feed.sync(reconcile=True)
    assert result.status == "partial", result
    assert result.counts["reconcile"]["reported_shop"] == 1
    [(kind, field, action)] = await findings(feed)
    assert (kind, field, action) == ("duplicate_sku", "sku[SKU-1]", "reported")
    theirs = await feed.configs.pool.fetchval("SELECT theirs FROM drift_findings")
    assert sorted(theirs) == sorted([ours["id"], copycat["id"]])
    holders = await shop.by_sku()
    assert sorted(p["id"] for p in holders["SKU-1"]) == sorted([ours["id"], copycat["id"]])
    by_id = {p["id"]: p for p in holders["SKU-1"]}
    assert (by_id[copycat["id"]]["title"], by_id[copycat["id"]]["variants"]["nodes"][0]["price"]) == (
        "Copycat",
        "4.00",
    )
    assert sorted(p["id"] for p in holders["NEW-1"]) == sorted(twin["id"] for twin in twins)
    assert {p["variants"]["nodes"][0]["price"] for p in holders["NEW-1"]} == {"2.00"}
    errors = [row["message"] for row in await feed.logs("error")]
    assert any(
        line.startswith("SKU NEW-1 of product NEW-1 is on 2 products in the shop") for line in errors
    ), errors
    assert await feed.configs.pool.fetchval("SELECT count(*) FROM products WHERE sku = 'NEW-1'") == 0


async def test_a_handle_taken_by_an_unrelated_product_is_reported(make_feed: MakeFeed) -> None:
    """The handle erpsync writes for a product is a merchant's already (erpsync created its product under
    another); the reconcile names the holder and writes nothing for it."""
    feed = await make_feed()
    merchant = await feed.configs.shop.create_by_hand(title="Theirs", handle="product-1-sku-1", skus=["X-1"])
    await first_sync(feed, flat_rows(1))
    assert (await holder(feed, "SKU-1"))["handle"] != "product-1-sku-1"
    result = await feed.sync(reconcile=True)
    assert result.status == "unchanged", result
    row = await feed.configs.pool.fetchrow("SELECT kind, field, ours, theirs, action FROM drift_findings")
    assert tuple(row) == ("handle_taken", "handle", "product-1-sku-1", merchant["id"], "reported")
    assert (await holder(feed, "X-1"))["title"] == "Theirs"


@pytest.mark.parametrize(
    ("every", "last_reconcile", "first_run", "due"),
    [
        (None, None, 48, False),  # no reconcile_every: never
        (24.0, None, None, False),  # the config's very first run is an ordinary one
        (24.0, None, 48, True),  # never reconciled, first run two days ago
        (24.0, 2, 48, False),  # reconciled two hours ago
        (24.0, 25, 48, True),
    ],
)
def test_when_a_scheduled_run_is_a_reconcile(
    every: float | None, last_reconcile: int | None, first_run: int | None, due: bool
) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)

    def ago(hours: int | None) -> datetime | None:
        return None if hours is None else now - timedelta(hours=hours)

    assert (
        reconcile_due(every=every, last_reconcile=ago(last_reconcile), first_run=ago(first_run), now=now)
        is due
    )


async def test_the_scheduler_queues_a_reconcile_when_one_is_due(
    make_feed: MakeFeed, clean_redis: Any
) -> None:
    """`reconcile_every: "24"` (hours, as `sync_frequency` is written): the next scheduled run is a
    reconcile once the config's runs are a day old."""
    feed = await make_feed(reconcile_every="24")
    await first_sync(feed, flat_rows(1))
    await feed.configs.pool.execute("UPDATE sync_runs SET started_at = now() - interval '25 hours'")
    scheduler = Scheduler(feed.configs.pool, clean_redis)
    try:
        await scheduler.reconcile()  # leads, finds the config due (every 24 hours) and queues its run
    finally:
        await scheduler.stop()
    row = await feed.configs.pool.fetchrow(
        "SELECT status, trigger, reconcile FROM sync_runs ORDER BY id DESC LIMIT 1"
    )
    assert tuple(row) == ("queued", "schedule", True)
