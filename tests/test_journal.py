"""The journal of every run (issue 17, acceptance 4): per product, what the run did — action, changed
fields before → after, result, the bulk operation and line — kept after the run ends, readable by run
(`GET /runs/{id}/changes`, `erpsync runs show ID --changes`) and by SKU
(`GET /configs/{id}/products/{sku}/history`), pruned with runs and logs after `[sync] journal_days`.
Whole runs against the simulator and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from shop_support import ConfigFeed, MakeFeed, flat_rows, grouped_rows
from support import erpsync_awaited, erpsync_env

from erpsync.db.changes import Change, run_changes
from erpsync.db.retention import prune_history
from erpsync.run_result import SyncResult

Client = TestClient[Any, Any]
OPERATION_QUERY = "query($id: ID!) { bulkOperation(id: $id) { id status type } }"


async def journal(feed: ConfigFeed, run_id: int, **filters: Any) -> list[Change]:
    return await run_changes(feed.configs.pool, run_id, limit=1000, **filters)


async def shop(feed: ConfigFeed) -> dict[str, tuple[str, str]]:
    """The shop's products by SKU: (title, price), as a merchant sees them."""
    return {
        variant["sku"]: (product["title"], variant["price"])
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    }


async def two_runs(feed: ConfigFeed) -> tuple[SyncResult, SyncResult]:
    """Five products; then SKU-1's price and SKU-2's title change, SKU-5 leaves, SKU-6 arrives."""
    feed.write(flat_rows(5))
    first = await feed.sync()
    assert first.status == "succeeded", first
    rows = flat_rows(4)
    rows[0]["price"] = "12.50"
    rows[1]["title"] = "Renamed"
    feed.write([*rows, *flat_rows(1, start=6)])
    second = await feed.sync()
    assert second.status == "succeeded", second
    return first, second


async def test_run_journals_each_create_update_and_delete(make_feed: MakeFeed) -> None:
    """A run that creates 1, updates 2 (a price, a title) and deletes 1 leaves exactly 4 journal rows once
    it ended: each with its action, SKU, the fields before → after, result ok, and the bulk operation and
    line its result came on — operations the shop knows. The 2 unchanged products get no row."""
    feed = await make_feed()
    first, second = await two_runs(feed)
    rows = await journal(feed, second.run_id)
    assert [(row.action, row.skus, row.result, row.attempts) for row in rows] == [
        ("update", ["SKU-1"], "ok", 1),
        ("update", ["SKU-2"], "ok", 1),
        ("create", ["SKU-6"], "ok", 1),
        ("delete", ["SKU-5"], "ok", 1),
    ]
    price, title = rows[0], rows[1]
    assert price.changes == [{"field": "variants[SKU-1].price", "before": "10.00", "after": "12.50"}]
    # The handle is not the feed's here: an update keeps the product's, so it is not a change.
    assert title.changes == [{"field": "title", "before": "Product 2", "after": "Renamed"}]
    assert rows[2].changes is None
    assert rows[3].changes is None
    # The price change went in a variant update file, the other writes in one productSet file (feed order),
    # the delete in a productDelete file of its own.
    assert [(row.line_number, row.message) for row in rows] == [(0, None), (0, None), (1, None), (0, None)]
    assert rows[1].bulk_operation_id == rows[2].bulk_operation_id
    assert (
        len({rows[0].bulk_operation_id, rows[1].bulk_operation_id, rows[3].bulk_operation_id} - {None}) == 3
    )
    for operation_id in {row.bulk_operation_id for row in rows}:
        operation = (await feed.configs.shop.graphql(OPERATION_QUERY, {"id": operation_id}))["bulkOperation"]
        assert (operation["status"], operation["type"]) == ("COMPLETED", "MUTATION")
    assert all(row.shopify_product_id and row.shopify_product_id.startswith("gid://") for row in rows)
    # The first run journalled its 5 creates; nothing is left in the run's working rows.
    assert [row.action for row in await journal(feed, first.run_id)] == ["create"] * 5
    assert await feed.configs.pool.fetchval("SELECT count(*) FROM run_products") == 0
    handles = {
        product["variants"]["nodes"][0]["sku"]: product["handle"]
        for product in await feed.configs.shop.catalogue()
    }
    assert handles["SKU-2"] == "product-2-sku-2"  # kept, as the journal says by naming no handle change
    after = await shop(feed)
    assert after["SKU-1"] == ("Product 1", "12.50")
    assert after["SKU-2"] == ("Renamed", "10.00")
    assert "SKU-5" not in after
    assert after["SKU-6"] == ("Product 6", "10.00")


async def test_unchanged_run_journals_nothing(make_feed: MakeFeed) -> None:
    """A run that finds every product unchanged writes no journal row: only its counts say so. (The rows
    come in another order, so the feed's bytes differ and it is read in full.)"""
    feed = await make_feed()
    feed.write(flat_rows(20))
    await feed.sync()
    feed.write(flat_rows(20)[::-1])
    again = await feed.sync()
    assert again.status == "succeeded", again
    assert again.counts["unchanged"] == 20
    assert await journal(feed, again.run_id) == []


async def test_refused_line_is_journalled_failed_with_the_shops_message(make_feed: MakeFeed) -> None:
    """The shop refuses one product: its row says failed, with the shop's message and the line it came on;
    the others are ok."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(sku_errors={"SKU-2": "Price must be positive"})
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert result.status == "partial", result
    rows = {row.skus[0]: row for row in await journal(feed, result.run_id)}
    assert {sku: row.result for sku, row in rows.items()} == {"SKU-1": "ok", "SKU-2": "failed", "SKU-3": "ok"}
    assert rows["SKU-2"].message is not None
    assert "Price must be positive" in rows["SKU-2"].message
    assert rows["SKU-2"].line_number == 1
    assert rows["SKU-2"].bulk_operation_id is not None
    assert "SKU-2" not in await shop(feed)


async def test_transient_retry_is_journalled_retried_with_its_attempts(make_feed: MakeFeed) -> None:
    """A line answered "currently being modified" and sent again: retried after 2 attempts, its operation
    the follow-up one that wrote it, at that file's line."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(line_errors={"skus": ["SKU-2"], "count": 1})
    feed.write(flat_rows(3))
    result = await feed.sync()
    assert result.status == "succeeded", result
    rows = {row.skus[0]: row for row in await journal(feed, result.run_id)}
    assert [(row.result, row.attempts) for row in rows.values()] == [("ok", 1), ("retried", 2), ("ok", 1)]
    assert rows["SKU-2"].bulk_operation_id != rows["SKU-1"].bulk_operation_id
    assert rows["SKU-2"].line_number == 0  # alone in the follow-up file
    assert (await shop(feed))["SKU-2"] == ("Product 2", "10.00")


async def test_api_pages_and_filters_a_runs_changes(make_feed: MakeFeed, api_for: Any) -> None:
    """`GET /runs/{id}/changes` pages with `limit` and the `next` cursor (passed as `after`), filters by
    action and SKU, and answers 404 for an unknown run and 422 for a bad filter."""
    feed = await make_feed()
    _, second = await two_runs(feed)
    client = await api_for(feed)
    url = f"/runs/{second.run_id}/changes"
    first_page = await (await client.get(url, params={"limit": "3"})).json()
    assert [change["skus"] for change in first_page["changes"]] == [["SKU-1"], ["SKU-2"], ["SKU-6"]]
    assert first_page["next"] == first_page["changes"][-1]["id"]
    rest = await (await client.get(url, params={"limit": "3", "after": str(first_page["next"])})).json()
    assert [(c["action"], c["skus"]) for c in rest["changes"]] == [("delete", ["SKU-5"])]
    assert rest["next"] is None
    updates = await (await client.get(url, params={"action": "update"})).json()
    assert [c["skus"] for c in updates["changes"]] == [["SKU-1"], ["SKU-2"]]
    one = await (await client.get(url, params={"sku": "SKU-1"})).json()
    [change] = one["changes"]
    assert change["changes"] == [{"field": "variants[SKU-1].price", "before": "10.00", "after": "12.50"}]
    assert (change["result"], change["line_number"]) == ("ok", 0)
    assert change["bulk_operation_id"].startswith("gid://shopify/BulkOperation/")
    missing = await client.get("/runs/999999/changes")
    assert missing.status == 404
    assert (await missing.json())["error"] == {
        "code": "not_found",
        "message": "no run with id 999999",
        "details": [],
    }
    bad = await client.get(url, params={"action": "explode"})
    assert bad.status == 422
    assert (await bad.json())["error"]["code"] == "invalid_query"


async def test_history_of_a_sku_over_two_runs(make_feed: MakeFeed, api_for: Any) -> None:
    """`GET /configs/{id}/products/{sku}/history`: every run's change to the product, newest first, paged
    with `before`; an unknown config is 404, a SKU never journalled an empty page."""
    feed = await make_feed()
    first, second = await two_runs(feed)
    client = await api_for(feed)
    body = await (await client.get(f"/configs/{feed.id}/products/SKU-1/history")).json()
    assert [(c["run_id"], c["action"]) for c in body["changes"]] == [
        (second.run_id, "update"),
        (first.run_id, "create"),
    ]
    assert body["changes"][0]["changes"][0]["after"] == "12.50"
    page = await (
        await client.get(f"/configs/{feed.id}/products/SKU-1/history", params={"limit": "1"})
    ).json()
    assert [c["run_id"] for c in page["changes"]] == [second.run_id]
    older = await client.get(
        f"/configs/{feed.id}/products/SKU-1/history", params={"limit": "1", "before": str(page["next"])}
    )
    assert [c["run_id"] for c in (await older.json())["changes"]] == [first.run_id]
    gone = await (await client.get(f"/configs/{feed.id}/products/SKU-5/history")).json()
    assert [c["action"] for c in gone["changes"]] == ["delete", "create"]
    nothing = await (await client.get(f"/configs/{feed.id}/products/NOPE/history")).json()
    assert nothing == {"changes": [], "next": None}
    unknown = await client.get("/configs/nope/products/SKU-1/history")
    assert unknown.status == 404
    assert (await unknown.json())["error"]["code"] == "not_found"


async def test_history_finds_a_product_by_any_variants_sku(make_feed: MakeFeed, api_for: Any) -> None:
    """A product with three variants is found by each of its SKUs, with the variant's own price change."""
    feed = await make_feed(grouped=True)
    feed.write(grouped_rows({"TEE": ["TEE-S", "TEE-M", "TEE-L"]}))
    await feed.sync()
    rows = grouped_rows({"TEE": ["TEE-S", "TEE-M", "TEE-L"]})
    rows[2]["price"] = "25.00"
    feed.write(rows)
    second = await feed.sync()
    client = await api_for(feed)
    for sku in ("TEE-S", "TEE-M", "TEE-L"):
        body = await (await client.get(f"/configs/{feed.id}/products/{sku}/history")).json()
        assert [c["action"] for c in body["changes"]] == ["update", "create"], sku
        assert body["changes"][0]["skus"] == ["TEE-S", "TEE-M", "TEE-L"]
    [change] = await journal(feed, second.run_id)
    assert change.changes == [{"field": "variants[TEE-L].price", "before": "20.00", "after": "25.00"}]
    assert (await shop(feed))["TEE-L"][1] == "25.00"


async def test_runs_show_prints_the_run_and_its_changes(make_feed: MakeFeed, tmp_path: Any) -> None:
    """`erpsync runs show ID` prints the run; `--changes` one line per product (action, SKU, result,
    fields before → after); `--json` both as JSON; an unknown run id exits 66."""
    feed = await make_feed()
    _, second = await two_runs(feed)
    env = erpsync_env(feed.configs.settings, tmp_path)
    shown = await erpsync_awaited(env, "runs", "show", str(second.run_id))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"run {second.run_id} of acme: succeeded"
    assert "created=1 updated=2 deleted=1 unchanged=2 failed=0" in shown.stdout
    assert "changes (" not in shown.stdout
    text = await erpsync_awaited(env, "runs", "show", str(second.run_id), "--changes")
    assert text.returncode == 0, text.stderr
    changes = text.stdout.split("changes (4; unchanged products are only counted):\n")[1].splitlines()
    assert [line.split()[:3] for line in changes] == [
        ["update", "SKU-1", "ok"],
        ["update", "SKU-2", "ok"],
        ["create", "SKU-6", "ok"],
        ["delete", "SKU-5", "ok"],
    ]
    assert "variants[SKU-1].price: 10.00 → 12.50" in changes[0]
    assert "title: Product 2 → Renamed" in changes[1]
    assert " created  [gid://shopify/BulkOperation/" in changes[2]
    assert changes[2].endswith(" line 1]")
    assert " deleted  [gid://shopify/BulkOperation/" in changes[3]
    as_json = await erpsync_awaited(env, "runs", "show", str(second.run_id), "--changes", "--json")
    body = orjson.loads(as_json.stdout)
    assert body["run"]["id"] == second.run_id
    assert body["run"]["status"] == "succeeded"
    assert [(c["action"], c["skus"], c["result"]) for c in body["changes"]][-1] == ("delete", ["SKU-5"], "ok")
    plain = orjson.loads((await erpsync_awaited(env, "runs", "show", str(second.run_id), "--json")).stdout)
    assert plain["id"] == second.run_id
    assert "changes" not in plain
    listed = await erpsync_awaited(env, "runs", "acme")  # the list, as before `show` existed
    assert listed.returncode == 0
    assert f"{second.run_id:>6} acme" in listed.stdout
    unknown = await erpsync_awaited(env, "runs", "show", "999999")
    assert unknown.returncode == 66
    assert unknown.stderr.strip().splitlines() == ["erpsync: no run with id 999999"]


async def test_retention_prunes_old_journal_rows_only(make_feed: MakeFeed) -> None:
    """Journal rows past `journal_days` go (even those of a run that is kept, as each config's latest
    run is); newer rows stay."""
    feed = await make_feed()
    first, second = await two_runs(feed)
    pool = feed.configs.pool
    old = datetime.now(UTC) - timedelta(days=100)
    await pool.execute("UPDATE run_changes SET at = $2 WHERE run_id = $1", first.run_id, old)
    runs, _, pruned = await prune_history(pool, datetime.now(UTC) - timedelta(days=90), batch=2)
    assert (runs, pruned) == (0, 5)  # run 1's 5 creates; both runs are recent themselves
    assert await journal(feed, first.run_id) == []
    assert len(await journal(feed, second.run_id)) == 4


async def test_lines_a_failed_operation_never_answered_are_journalled_unknown(make_feed: MakeFeed) -> None:
    """The bulk operation ends FAILED after 2 of 5 lines: those 2 are ok, the other 3 unknown (no answer
    came), matching the run's counts and the shop."""
    feed = await make_feed()
    await feed.configs.shop.simulator.faults(fail_bulk_after_lines=2)
    feed.write(flat_rows(5))
    result = await feed.sync()
    assert (result.counts["created"], result.counts["unknown"]) == (2, 3), result.counts
    rows = await journal(feed, result.run_id)
    results = {row.skus[0]: row.result for row in rows}
    assert sorted(results.values()) == ["ok", "ok", "unknown", "unknown", "unknown"]
    assert sorted(await shop(feed)) == sorted(sku for sku, result in results.items() if result == "ok")
