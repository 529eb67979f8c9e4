"""Reverting a run from outside (issue 18, acceptance 4): `erpsync runs revert RUN_ID [--dry-run]`, and
`POST /runs/{id}/revert` (`?dry_run=true`) queued for a worker; a dry revert writes nothing anywhere; a run
that cannot be reverted gets one clear line, the README's exit status, or 404/409 in the error shape.
Against PostgreSQL, Redis and the simulator, with real `erpsync` processes."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from revert_support import SIZES, catalogue_rows, prices, revert, snapshot, tee, two_runs
from shop_support import ConfigFeed, MakeFeed
from support import erpsync_awaited, erpsync_env

from erpsync.db.runs import cancel_queued, create_run, finish_run
from erpsync.jobs import sync_job

Client = TestClient[Any, Any]


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


async def test_api_queues_a_revert_that_a_worker_runs(
    make_feed: MakeFeed, api_for: Any, clean_redis: Any
) -> None:
    """`POST /runs/{id}/revert` answers 202 with the revert's queued run (trigger `revert`, naming the run
    it reverts); a second request while it waits is 409 naming it; the worker's job runs it as a revert."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"))
    client = await api_for(feed)

    response = await client.post(f"/runs/{changed.run_id}/revert")

    body = await response.json()
    assert response.status == 202, body
    assert (body["status"], body["created"], body["reverts_run_id"]) == ("queued", True, changed.run_id)
    assert response.headers["Location"] == f"/runs/{body['run_id']}"
    busy = await client.post(f"/runs/{changed.run_id}/revert")
    assert busy.status == 409
    assert (await busy.json())["error"]["code"] == "sync_in_progress"
    ctx = {"settings": feed.configs.settings, "pool": feed.configs.pool}
    assert await sync_job(ctx, feed.id, body["run_id"], False) == {
        "run_id": body["run_id"],
        "status": "succeeded",
    }
    shown = await (await client.get(f"/runs/{body['run_id']}")).json()
    assert (shown["trigger"], shown["reverts_run_id"], shown["status"]) == (
        "revert",
        changed.run_id,
        "succeeded",
    )
    assert prices(await snapshot(feed))["A-S"] == ("Tee A", "20.00")
    again = await client.post(f"/runs/{changed.run_id}/revert")
    assert again.status == 409
    assert await again.json() == {
        "error": {
            "code": "already_reverted",
            "message": f"run {changed.run_id} was reverted already, by run {body['run_id']}",
            "details": [],
        }
    }


async def test_runs_that_cannot_be_reverted_get_one_clear_error(
    make_feed: MakeFeed, api_for: Any, tmp_path: Any
) -> None:
    """An unknown run, one not finished, a dry run, one that wrote nothing and one whose config is gone:
    the API answers 404/409 in its error shape, the CLI one line and the README's exit status (66, 75, 1);
    nothing is run."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(feed, A=tee("A", SIZES[:2], price="25.00"))
    pool = feed.configs.pool
    unchanged = await feed.sync()
    assert unchanged.status == "unchanged"
    dry = await create_run(pool, feed.id, trigger="api", dry_run=True)
    await finish_run(pool, dry, "succeeded", {})
    queued = await create_run(pool, feed.id, trigger="api")
    client = await api_for(feed)
    env = erpsync_env(feed.configs.settings, tmp_path)
    cases = [
        (999999, 404, "not_found", 66, "no run with id 999999"),
        (queued, 409, "run_not_finished", 75, f"run {queued} of 'acme' has not finished (queued): revert it once it has"),
        (dry, 409, "is_dry_run", 1, f"run {dry} is a dry run: it wrote nothing to revert"),
        (unchanged.run_id, 409, "nothing_to_revert", 1,
         f"run {unchanged.run_id} of 'acme' ended unchanged and wrote nothing: nothing to revert"),
    ]  # fmt: skip
    for run_id, status, code, exit_status, message in cases:
        response = await client.post(f"/runs/{run_id}/revert")
        assert response.status == status, run_id
        assert await response.json() == {"error": {"code": code, "message": message, "details": []}}
        if code != "nothing_to_revert":  # the CLI's line is the API's message (a process costs ~0.5 s)
            done = await erpsync_awaited(env, "runs", "revert", str(run_id))
            assert (done.returncode, done.stderr.strip().splitlines()) == (
                exit_status,
                [f"erpsync: {message}"],
            )
    bad = await client.post(f"/runs/{changed.run_id}/revert?dry_run=maybe")
    assert (bad.status, (await bad.json())["error"]["code"]) == (422, "invalid_query")
    assert (await client.post("/runs/abc/revert")).status == 404
    await cancel_queued(pool, queued, "not run")
    assert (await client.delete("/configs/acme")).status == 204
    gone = f"run {changed.run_id} belongs to config 'acme', which no longer exists: nothing to revert it in"
    response = await client.post(f"/runs/{changed.run_id}/revert")
    assert (response.status, (await response.json())["error"]["message"]) == (404, gone)
    done = await erpsync_awaited(env, "runs", "revert", str(changed.run_id))
    assert (done.returncode, done.stderr.strip()) == (66, f"erpsync: {gone}")
    runs = await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'revert'")
    assert runs == 0


async def test_cli_reverts_a_run_and_its_dry_run_writes_nothing(make_feed: MakeFeed, tmp_path: Any) -> None:
    """`erpsync runs revert ID --dry-run` prints what would be done and left alone and writes nothing;
    without it the revert runs in the foreground, prints its summary and what it left alone, exit 0 —
    on a config disabled first, as the README advises."""
    feed = await make_feed(grouped=True)
    _, changed = await two_runs(
        feed, A=tee("A", SIZES[:2], price="25.00"), B=tee("B", SIZES[:2], price="25.00")
    )
    feed.write(catalogue_rows(A=tee("A", SIZES[:2], price="25.00"), B=tee("B", SIZES[:2], price="30.00")))
    later = await feed.sync()
    env = erpsync_env(feed.configs.settings, tmp_path, shop_url=feed.configs.shop.simulator.base_url)
    disabled = await erpsync_awaited(env, "configs", "disable", "acme")  # as the README advises
    assert disabled.returncode == 0, disabled.stderr
    before = await snapshot(feed)

    dry = await erpsync_awaited(env, "runs", "revert", str(changed.run_id), "--dry-run")

    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == f"revert of run {changed.run_id} (dry run: nothing written)"
    assert "  update: A" in lines
    assert "    A (variants) variants[A-M].price: '25.00' -> '20.00'" in lines
    assert lines[-2:] == ["  not reverted (1):", f"    B (SKU B-S, B-M): changed since by run {later.run_id}"]
    assert await snapshot(feed) == before

    done = await erpsync_awaited(env, "runs", "revert", str(changed.run_id))

    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    revert_id = int(second.split()[1].rstrip(":"))
    assert (first, second) == (f"revert of run {changed.run_id}", f"run {revert_id}: succeeded")
    assert f"    B (SKU B-S, B-M): changed since by run {later.run_id}" in done.stdout
    assert prices(await snapshot(feed))["A-S"] == ("Tee A", "20.00")
    shown = await erpsync_awaited(env, "runs", "show", str(revert_id))
    assert f"trigger: revert (of run {changed.run_id})" in shown.stdout.splitlines()
