"""Bulk operations that end as real shops end them: canceled with part of the work in a file, expired
with none, exports stopped by Shopify; concurrency counted as the shop counts it; operations read back the
way the configured API version can."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from shop_support import ConfigFeed, MakeFeed, flat_rows
from support import poll_until
from test_shopify_bulk import Recorder, write_files

from erpsync.shopify import documents
from erpsync.shopify.bulk import cancel_operation, find_started_mutation, get_operation, run_file, start_query
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.errors import BulkOperationError
from erpsync.shopify.export import run_export
from erpsync.shopify.lifecycle import LIFECYCLE_DOCUMENTS
from erpsync.shopify.throttle import Throttle
from shopify_simulator.schema import load_schema


async def catalogue_skus(feed: ConfigFeed) -> list[str]:
    """Every SKU of the shop, once per variant: a duplicate product shows as a SKU listed twice."""
    return sorted(
        variant["sku"]
        for product in await feed.configs.shop.catalogue()
        for variant in product["variants"]["nodes"]
    )


@pytest.mark.parametrize("document", LIFECYCLE_DOCUMENTS, ids=lambda d: d.name)
def test_lifecycle_documents_are_valid(document: documents.Document) -> None:
    """The documents older API versions use to read operations back are valid against the schema."""
    from graphql import parse, validate

    assert validate(load_schema(), parse(document.text)) == []


async def test_canceled_operation_keeps_the_lines_it_ran(shopify: Any, tmp_path: Path) -> None:
    """An operation canceled in the shop after 4 of 10 lines: its url holds those 4, reported ok; the other
    6 are reported unknown, never as written."""
    await shopify.faults(cancel_bulk_after_lines=4)
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(10)]
    (file,) = write_files(tmp_path, skus)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        result = await run_file(
            client,
            documents.PRODUCT_SET_BULK,
            file,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert result.operation.status == "CANCELED"
    assert result.operation.url is not None
    assert sorted(recorder.outcomes) == sorted(skus)
    statuses = [outcome.status for outcome in recorder.outcomes.values()]
    assert statuses.count("ok") == 4
    assert statuses.count("unknown") == 6
    unknown = next(outcome for outcome in recorder.outcomes.values() if outcome.status == "unknown")
    assert "CANCELED" in unknown.message


async def test_expired_operation_reports_every_line_unknown(shopify: Any, tmp_path: Path) -> None:
    """An operation that expires after 3 of 6 lines has no file: all 6 lines are reported unknown, none as
    written, although 3 products exist in the shop."""
    await shopify.faults(expire_bulk_after_lines=3)
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(6)]
    (file,) = write_files(tmp_path, skus)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        result = await run_file(
            client,
            documents.PRODUCT_SET_BULK,
            file,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert result.operation.status == "EXPIRED"
    assert result.operation.url is None
    assert result.operation.partial_data_url is None
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"unknown"}
    assert len(recorder.outcomes) == 6
    assert (await shopify.stats())["mutations"]["productSet"] == 3


async def test_unknown_export_error_code_is_refused_by_the_simulator(shopify: Any) -> None:
    """The export fault takes only the schema's BulkOperationErrorCode values."""
    async with shopify.session.post(
        f"{shopify.base_url}/_simulator/faults", json={"fail_export": "NOPE"}
    ) as response:
        assert response.status == 400


async def test_canceled_run_sends_the_rest_next_run_without_duplicates(make_feed: MakeFeed) -> None:
    """A run whose create operation is canceled after 2 of 5 lines ends partial with 2 created and 3
    unknown; the next run creates the other 3 and the shop holds each SKU once."""
    feed = await make_feed()
    feed.write(flat_rows(5))
    await feed.configs.shop.simulator.faults(cancel_bulk_after_lines=2)
    first = await feed.sync()
    assert first.status == "partial", first
    assert first.counts["created"] == 2
    assert first.counts["unknown"] == 3
    assert len(await catalogue_skus(feed)) == 2
    second = await feed.sync()
    assert second.status == "succeeded", second
    assert second.counts["created"] == 3
    assert await catalogue_skus(feed) == [f"SKU-{n}" for n in range(1, 6)]


async def test_expired_run_records_nothing_and_the_next_run_completes(make_feed: MakeFeed) -> None:
    """An operation that expires after 3 of 5 lines leaves no result file: nothing is recorded as written,
    although 3 products exist in the shop. The next run sends all 5 again; the 3 are updated by their
    custom id, not created twice."""
    feed = await make_feed()
    feed.write(flat_rows(5))
    await feed.configs.shop.simulator.faults(expire_bulk_after_lines=3)
    first = await feed.sync()
    assert first.status == "partial", first
    assert first.counts["created"] == 0
    assert first.counts["unknown"] == 5
    messages = [row["message"] for row in await feed.logs()]
    assert any("EXPIRED" in message for message in messages), messages
    assert len(await catalogue_skus(feed)) == 3
    second = await feed.sync()
    assert second.status == "succeeded", second
    assert second.counts["created"] + second.counts["updated"] == 5
    assert await catalogue_skus(feed) == [f"SKU-{n}" for n in range(1, 6)]


@pytest.mark.parametrize(
    ("code", "advice", "retryable"),
    [
        ("TIMEOUT", "The next run tries again", True),
        ("ACCESS_DENIED", "read_products", False),
        ("INTERNAL_SERVER_ERROR", "The next run tries again", True),
    ],
)
async def test_export_stopped_by_shopify_is_one_clear_error(
    shopify: Any, code: str, advice: str, retryable: bool
) -> None:
    """An export that Shopify stops with TIMEOUT, ACCESS_DENIED or INTERNAL_SERVER_ERROR raises one error
    naming the code and what to do; whether the run is retried follows the code."""
    await shopify.faults(fail_export=code)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        with pytest.raises(BulkOperationError) as raised:
            await run_export(client, documents.PRODUCT_EXPORT_QUERY)
    message = str(raised.value)
    assert "\n" not in message
    assert f"FAILED ({code})" in message
    assert advice in message
    assert raised.value.code == code
    assert raised.value.retryable is retryable


async def test_run_whose_export_is_denied_fails_and_writes_nothing(make_feed: MakeFeed) -> None:
    """A run that reads the shop through an export (more products to update than `sku_lookup_limit`) and
    meets ACCESS_DENIED fails with one line that names the code and the scope to grant; nothing is
    written: the shop keeps the prices of the run before. (The drift check's export of the products updated
    since the first run is refused first: a check that fails is logged, and the run goes on.)"""
    feed = await make_feed(sync={"sku_lookup_limit": 0})
    feed.write(flat_rows(3))
    assert (await feed.sync()).status == "succeeded"
    await feed.configs.shop.simulator.faults(fail_export="ACCESS_DENIED", fail_export_times=2)
    feed.write(flat_rows(3, price="12.00"))
    result = await feed.sync()
    assert result.status == "failed", result
    assert result.error is not None
    assert "ACCESS_DENIED" in result.error
    assert "read_products" in result.error
    assert "\n" not in result.error
    assert result.retryable is False
    catalogue = await feed.configs.shop.catalogue()
    assert sorted(v["sku"] for p in catalogue for v in p["variants"]["nodes"]) == ["SKU-1", "SKU-2", "SKU-3"]
    assert {v["price"] for p in catalogue for v in p["variants"]["nodes"]} == {"10.00"}
    errors = [row["message"] for row in await feed.logs("error")]
    assert any("ACCESS_DENIED" in message for message in errors), errors
    assert "ACCESS_DENIED" in result.counts["drift"]["error"]


async def test_old_api_version_cannot_read_bulk_operation_by_id(shopify: Any) -> None:
    """Under 2025-10 the simulator refuses `bulkOperation(id:)` and `bulkOperations`, as that version's
    schema has neither; 2026-01 answers them."""
    query = '{ bulkOperation(id: "gid://shopify/BulkOperation/1") { id } }'
    for version, refused in (("2025-10", True), ("2026-01", False)):
        async with shopify.session.post(
            f"{shopify.base_url}/admin/api/{version}/graphql.json",
            json={"query": query},
            headers={"X-Shopify-Access-Token": shopify.target().access_token.get_secret_value()},
        ) as response:
            body = await response.json()
        errors = body.get("errors") or []
        assert bool(errors) is refused, body
        if refused:
            assert "doesn't exist on type 'QueryRoot'" in errors[0]["message"]


async def test_old_api_version_runs_and_finds_operations_through_node(shopify: Any, tmp_path: Path) -> None:
    """Under 2025-10 the client polls by `node(id:)` and finds a started mutation through
    `currentBulkOperation`: the operation completes and every line is reported."""
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(6)]
    (file,) = write_files(tmp_path, skus)
    marked = documents.Document(
        documents.PRODUCT_SET_BULK.name,
        documents.PRODUCT_SET_BULK.text.replace("mutation call(", "mutation erpsync_old_version_1(", 1),
        documents.PRODUCT_SET_BULK.estimated_cost,
        is_mutation=True,
    )
    async with ShopifyClient(shopify.target(api_version="2025-10"), throttle=Throttle()) as client:
        result = await run_file(
            client, marked, file, on_started=recorder.on_started, on_outcomes=recorder.on_outcomes
        )
        found = await find_started_mutation(client, "erpsync_old_version_1")
        missing = await find_started_mutation(client, "erpsync_never_sent_1")
    assert result.operation.status == "COMPLETED"
    assert sorted(recorder.outcomes) == sorted(skus)
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"ok"}
    assert found == result.operation.id
    assert missing is None


async def _busy_exports(client: ShopifyClient, count: int) -> list[str]:
    """Start `count` slow exports and return their ids."""
    ids = []
    for _ in range(count):
        operation = await start_query(client, documents.PRODUCT_EXPORT_QUERY)
        ids.append(operation.id)
    return ids


@pytest.mark.parametrize("shared", [True, False])
async def test_mutation_beside_five_exports_follows_the_shops_pool(
    start_shopify: Any, tmp_path: Path, shared: bool
) -> None:
    """With five exports running, a shop counting one pool of five refuses the mutation until a slot
    frees (the client waits, then completes); a shop counting five of each type starts it at once."""
    shopify = await start_shopify(bulk_concurrency_shared=shared, bulk_query_rate=1.0)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        seed = Recorder()
        (seed_file,) = write_files(tmp_path / "seed", [f"SEED-{index}" for index in range(8)])
        await run_file(
            client,
            documents.PRODUCT_SET_BULK,
            seed_file,
            on_started=seed.on_started,
            on_outcomes=seed.on_outcomes,
        )
        exports = await _busy_exports(client, 5)  # 16 objects each at 1 a second: running for the test
        recorder = Recorder()
        (file,) = write_files(tmp_path / "main", ["SKU-1", "SKU-2"])
        mutation = asyncio.create_task(
            run_file(
                client,
                documents.PRODUCT_SET_BULK,
                file,
                on_started=recorder.on_started,
                on_outcomes=recorder.on_outcomes,
            )
        )
        if shared:
            await poll_until(lambda: _refused(shopify), seconds=30)
            assert not mutation.done()
            await cancel_operation(client, exports[0])  # a slot frees: the waiting mutation starts
        result = await asyncio.wait_for(mutation, timeout=60)
        statuses = [(await get_operation(client, operation_id)).status for operation_id in exports]
        for operation_id in exports[1:]:
            await cancel_operation(client, operation_id)
    assert result.operation.status == "COMPLETED"
    assert {outcome.status for outcome in recorder.outcomes.values()} == {"ok"}
    assert statuses[1:] == ["RUNNING"] * 4  # the mutation ran beside the exports still running
    refused = (await shopify.stats())["bulk_refused"]["MUTATION"]
    assert (refused > 0) is shared


async def _refused(shopify: Any) -> bool:
    return bool((await shopify.stats())["bulk_refused"]["MUTATION"])
