"""Shopify as it has been recorded answering: no reply shape may stall the client or fail the sync.

Each test runs the real client, with several requests waiting at once, against a simulator told to answer
one recorded way: throttleStatus missing (on the first reply, on error replies, on every reply), THROTTLED
by code or by message alone under HTTP 200 and 429, and a busy bulk start told by code or by message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from shop_support import MakeFeed, Shop, flat_rows

from erpsync.shopify import documents
from erpsync.shopify.bulk import run_bulk_mutation
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.documents import Document
from erpsync.shopify.errors import ShopifyCostExceeded, ShopifyRetriesExhausted, ShopifyThrottled
from erpsync.shopify.export import run_export
from erpsync.shopify.throttle import Throttle

LOCATIONS = {"first": 10}  # requested cost 12
WAITING = 12  # requests sent at once
BOUND = 20.0  # seconds any test may wait for its requests; a stalled client never gets there
TOO_COSTLY = Document(
    "tooCostly",
    "query erpsyncTooCostly { products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }",
    estimated_cost=50,
)
STAGE_ONE = {
    "input": [
        {
            "resource": "BULK_MUTATION_VARIABLES",
            "filename": "a.jsonl",
            "mimeType": "text/jsonl",
            "httpMethod": "POST",
        }
    ]
}
EXPORT = "{ products { edges { node { id } } } }"
RUN_QUERY = "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }"


async def all_locations(client: ShopifyClient, count: int = WAITING) -> list[dict[str, Any]]:
    """`count` requests sent at once, bounded: a stalled client fails here instead of hanging the suite."""
    calls = [client.execute(documents.LOCATIONS, LOCATIONS) for _ in range(count)]
    async with asyncio.timeout(BOUND):
        return await asyncio.gather(*calls)


def assert_locations(results: list[dict[str, Any]]) -> None:
    assert len(results) == WAITING
    assert all(result["locations"]["nodes"][0]["name"] == "Main warehouse" for result in results)


# --- acceptance 1: no reply shape stalls the client ------------------------------------------------------


@pytest.mark.parametrize("throttle_status", ["not_on_first", "never"])
async def test_replies_without_throttle_status_do_not_stall_waiting_requests(
    start_shopify: Any, throttle_status: str
) -> None:
    """The first reply (or every reply) lacks throttleStatus: every waiting request is still answered, once
    each, and the client paces by the documented default bucket rather than queueing forever."""
    shopify = await start_shopify(throttle_status=throttle_status)
    throttle = Throttle()
    async with ShopifyClient(shopify.target(), throttle=throttle) as client:
        assert_locations(await all_locations(client))
        assert client.stats.retries == 0
    assert throttle.known
    assert (await shopify.stats())["requests"] == WAITING


async def test_an_error_reply_without_extensions_does_not_stall_the_rest(start_shopify: Any) -> None:
    """The first request in flight is refused (MAX_COST_EXCEEDED) with no extensions at all, as recorded:
    it fails on its own with a clear error, and the requests queued behind it are all answered."""
    shopify = await start_shopify(throttle_status="not_on_errors")
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        costly = asyncio.ensure_future(client.execute(TOO_COSTLY))
        results = await all_locations(client)
        with pytest.raises(ShopifyCostExceeded, match="exceeds the single query max cost"):
            await costly
    assert_locations(results)


@pytest.mark.parametrize(
    "fault",
    [{"fail_requests": 1, "status": 503}, {"drop_connections": 1}],
    ids=["503", "dropped"],
)
async def test_a_failed_first_request_releases_the_requests_behind_it(
    start_shopify: Any, fault: dict[str, Any]
) -> None:
    """The first reply is a 503 with no cost, or its connection drops: its retry and every request
    behind it go through, instead of all waiting for a throttle status that never comes."""
    shopify = await start_shopify()
    await shopify.faults(**fault)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        assert_locations(await all_locations(client))


async def test_a_cancelled_request_releases_the_requests_behind_it(shopify: Any) -> None:
    """A request cancelled while in flight (a run stopped) does not leave the others of the shop waiting."""
    await shopify.faults(latency_ms=200)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        first = asyncio.ensure_future(client.execute(documents.LOCATIONS, LOCATIONS))
        await asyncio.sleep(0.05)  # the first is now in flight, not yet answered
        waiting = asyncio.ensure_future(all_locations(client))
        await asyncio.sleep(0.05)
        first.cancel()
        assert_locations(await waiting)


THROTTLED_SHAPES = [("code", 200), ("code", 429), ("message", 200), ("message", 429), ("empty", 429)]


FORCED = 3  # requests the simulator answers THROTTLED whatever its bucket holds


@pytest.mark.parametrize("throttle_status", ["always", "not_on_errors", "never"])
@pytest.mark.parametrize(("shape", "status"), THROTTLED_SHAPES)
async def test_throttled_by_code_or_by_message_under_200_or_429_is_waited_out(
    start_shopify: Any, shape: str, status: int, throttle_status: str
) -> None:
    """THROTTLED with a code, by message alone (`{"errors":[{"message":"Throttled"}]}`), or a bare 429, with
    throttleStatus, without it, or with no extensions at all: queries and a mutation alike wait and go
    again, each once; none fails the sync."""
    shopify = await start_shopify(
        throttled_shape=shape, throttled_http_status=status, throttle_status=throttle_status
    )
    await shopify.faults(throttle_requests=FORCED)
    throttle = Throttle()  # one bucket, shared by the task that writes and the tasks that read
    target = shopify.target(max_retries=FORCED)
    async with (
        ShopifyClient(target, throttle=throttle) as writer,
        ShopifyClient(target, throttle=throttle) as reader,
    ):
        staged = asyncio.ensure_future(writer.execute(documents.STAGED_UPLOADS_CREATE, STAGE_ONE))
        results = await all_locations(reader)
        async with asyncio.timeout(BOUND):
            assert (await staged)["stagedUploadsCreate"]["stagedTargets"]
        assert writer.stats.retries == 1  # the mutation, first in flight, was throttled and sent again
    assert_locations(results)
    stats = await shopify.stats()
    assert stats["throttled"] == FORCED
    assert throttle.stats.throttled == FORCED  # each seen as throttling, none as an error
    assert stats["requests"] == WAITING + 1 + FORCED  # each throttled request sent once more, no more


@pytest.mark.parametrize(("shape", "status"), THROTTLED_SHAPES)
async def test_throttling_is_retried_a_bounded_number_of_times(
    start_shopify: Any, shape: str, status: int
) -> None:
    """A request that the bucket can never pay is given up after the retry bound, as a transient error
    that names the operation, never as a permanent refusal of the document."""
    shopify = await start_shopify(
        bucket_size=10.0, restore_rate=100.0, throttled_shape=shape, throttled_http_status=status
    )
    async with ShopifyClient(shopify.target(max_retries=2), throttle=Throttle()) as client:
        with pytest.raises(ShopifyRetriesExhausted, match=r"gave up after 3 attempts.*operation locations"):
            async with asyncio.timeout(BOUND):
                await client.execute(documents.LOCATIONS, LOCATIONS)
    assert (await shopify.stats())["throttled"] == 3


@pytest.mark.parametrize(
    ("status", "retry_after", "least", "most"),
    [(429, 0.25, 0.25, 0.25), (429, None, 1.0, 1.0), (200, 0.25, 0.25, 0.25), (200, None, 0.0, 0.5)],
)
async def test_retry_after_is_honoured_and_a_bare_429_waits_a_second(
    start_shopify: Any, status: int, retry_after: float | None, least: float, most: float
) -> None:
    """The wait before going again is the shop's Retry-After when it sends one; a 429 without it waits 1 s
    (as Shopify's own client does); a THROTTLED reply that reports the bucket waits only for the refill."""
    shopify = await start_shopify(
        bucket_size=10.0,
        restore_rate=100.0,
        throttled_shape="message",
        throttled_http_status=status,
        throttled_retry_after=retry_after,
    )
    async with ShopifyClient(shopify.target(max_retries=1), throttle=Throttle()) as client:
        with pytest.raises(ShopifyRetriesExhausted) as raised:
            await client.execute(documents.LOCATIONS, LOCATIONS)
    last = raised.value.__cause__
    assert isinstance(last, ShopifyThrottled)
    assert last.retry_after is not None
    assert least <= last.retry_after <= most


# --- acceptance 2: busy by code or by message ------------------------------------------------------------


def write_files(tmp_path: Path, count: int, lines: int) -> list[BulkFile]:
    with BulkFileWriter(tmp_path, "busy", max_lines=lines) as writer:
        for index in range(count * lines):
            sku = f"SKU-{index}"
            writer.add(
                sku, {"identifier": {"handle": sku.lower()}, "input": {"handle": sku.lower(), "title": sku}}
            )
    return writer.files


@pytest.mark.parametrize("shape", ["code", "message"])
async def test_busy_bulk_starts_wait_for_a_slot(start_shopify: Any, tmp_path: Path, shape: str) -> None:
    """The shop runs one bulk operation at a time and refuses the others by code or by message alone:
    every file still runs, every line is accounted for, and nothing fails."""
    shopify = await start_shopify(bulk_concurrency=1, bulk_rate=100.0, bulk_busy_shape=shape)
    outcomes: dict[str, str] = {}

    async def on_started(file: BulkFile, operation_id: str) -> None:
        return None

    async def on_outcomes(file: BulkFile, lines: list[Any]) -> None:
        outcomes.update((line.key, line.status) for line in lines)

    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        async with asyncio.timeout(BOUND):
            results = await run_bulk_mutation(
                client,
                documents.PRODUCT_SET_BULK,
                write_files(tmp_path, 3, 10),
                concurrency=3,
                on_started=on_started,
                on_outcomes=on_outcomes,
            )
    assert [result.operation.status for result in results] == ["COMPLETED"] * 3
    assert len(outcomes) == 30
    assert set(outcomes.values()) == {"ok"}
    stats = await shopify.stats()
    assert stats["bulk_busy"] >= 1
    assert stats["bulk_operations"]["MUTATION"] == 3


async def test_export_waits_while_another_process_exports_before_2026_01(start_shopify: Any) -> None:
    """Before 2026-01 one export runs at a time and the busy answer was a message with no code: an export
    started while another process's export runs waits for it and then completes."""
    shopify = await start_shopify(bulk_query_rate=5.0, bulk_busy_shape="message")
    shop = Shop(shopify)
    for index in range(3):
        await shop.graphql(
            "mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { message } } }",
            {"input": {"title": f"Product {index}"}},
        )
    other = await shop.graphql(RUN_QUERY, {"q": EXPORT})
    assert other["bulkOperationRunQuery"]["bulkOperation"]
    async with ShopifyClient(shopify.target(api_version="2025-10"), throttle=Throttle()) as client:
        async with asyncio.timeout(BOUND):
            operation = await run_export(client, EXPORT)
    assert operation.status == "COMPLETED"
    assert operation.object_count == 3
    assert (await shopify.stats())["bulk_busy"] >= 1


# --- a whole run against a shop that answers in every awkward shape at once ------------------------------


async def test_a_run_against_a_shop_answering_in_every_recorded_shape_succeeds(make_feed: MakeFeed) -> None:
    """No throttleStatus on the first reply, THROTTLED by message under 429, busy by message while another
    process's export holds the only slot: the run waits where it must and writes every product once."""
    feed = await make_feed(
        options={
            "throttle_status": "not_on_first",
            "throttled_shape": "message",
            "throttled_http_status": 429,
            "bulk_busy_shape": "message",
            "bulk_concurrency": 1,
            # The export lasts seconds, so the run meets it running even on a loaded machine.
            "bulk_query_rate": 5.0,
        }
    )
    shop = feed.configs.shop
    for index in range(5):  # something for the other process to export, slowly
        await shop.graphql(
            "mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { message } } }",
            {"input": {"title": f"Hand-made {index}"}},
        )
    await shop.graphql(RUN_QUERY, {"q": EXPORT})
    feed.write(flat_rows(6))
    async with asyncio.timeout(60):
        result = await feed.sync()
    assert result.status == "succeeded", result
    assert result.counts["created"] == 6
    by_sku = await shop.by_sku()
    assert all(len(by_sku[f"SKU-{n}"]) == 1 for n in range(1, 7))  # one product per SKU, none duplicated
    assert (await shop.simulator.stats())["bulk_busy"] >= 1
