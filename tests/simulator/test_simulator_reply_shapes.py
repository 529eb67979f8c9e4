"""Reply shapes recorded from real shops, each behind an option: throttleStatus left out, THROTTLED by message
or with no body, Retry-After, and a busy bulk start told by message alone."""

from __future__ import annotations

import dataclasses

import pytest

from shopify_simulator.server import SimulatorOptions

SHOP = "{ shop { name } }"
PAGE = "{ products(first: 250) { nodes { id } } }"
TOO_COSTLY = "{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }"
RUN_QUERY = """mutation($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}"""
EXPORT = "{ products { edges { node { id } } } }"


def status_of(body: dict) -> dict | None:
    return (body.get("extensions") or {}).get("cost", {}).get("throttleStatus")


async def test_throttle_status_always_is_on_every_reply(simulator):
    """The documented default: success and error replies alike report the bucket."""
    for query in (SHOP, SHOP, TOO_COSTLY):
        reply = await simulator.graphql(query)
        assert status_of(reply.body) is not None, reply.body


async def test_throttle_status_not_on_first(start_simulator, simulator_options):
    """Only the first reply after start (and after a reset) lacks throttleStatus; its cost is still there."""
    shop = await start_simulator(dataclasses.replace(simulator_options, throttle_status="not_on_first"))
    first = await shop.graphql(SHOP)
    assert first.body["data"]["shop"]["name"]
    assert first.body["extensions"]["cost"]["requestedQueryCost"] == 1
    assert status_of(first.body) is None
    assert status_of((await shop.graphql(SHOP)).body) is not None
    await shop.admin("POST", "/_simulator/reset")
    assert status_of((await shop.graphql(SHOP)).body) is None


async def test_throttle_status_not_on_errors(start_simulator, simulator_options):
    """Error replies carry no extensions at all, as the recorded MAX_COST_EXCEEDED body; successes do."""
    options = dataclasses.replace(
        simulator_options, throttle_status="not_on_errors", bucket_size=100.0, restore_rate=1.0
    )
    shop = await start_simulator(options)
    assert status_of((await shop.graphql(SHOP)).body) is not None
    costly = await shop.graphql(TOO_COSTLY)
    assert costly.body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "extensions" not in costly.body
    throttled = await shop.graphql(PAGE)
    assert throttled.body["errors"][0]["message"] == "Throttled"
    assert "extensions" not in throttled.body
    refused = await shop.graphql("{ nope }")
    assert refused.body["errors"]
    assert "extensions" not in refused.body


async def test_throttle_status_never(start_simulator, simulator_options):
    """A shop that never reports the bucket (the 'staff' plan) still reports each reply's cost."""
    shop = await start_simulator(dataclasses.replace(simulator_options, throttle_status="never"))
    for _ in range(3):
        reply = await shop.graphql(SHOP)
        assert reply.body["extensions"]["cost"]["actualQueryCost"] == 1
        assert status_of(reply.body) is None


@pytest.mark.parametrize("status", [200, 429])
async def test_throttled_by_message_alone(start_simulator, simulator_options, status):
    """The 2020 recording: `{"errors":[{"message":"Throttled"}]}` with no extensions.code, under 200 or 429."""
    options = dataclasses.replace(
        simulator_options,
        bucket_size=100.0,
        restore_rate=1.0,
        throttled_shape="message",
        throttled_http_status=status,
    )
    shop = await start_simulator(options)
    reply = await shop.graphql(PAGE)
    assert reply.status == status
    assert reply.body["errors"] == [{"message": "Throttled"}]
    assert reply.body["extensions"]["cost"]["actualQueryCost"] is None
    assert "Retry-After" not in reply.headers
    assert (await shop.admin("GET", "/_simulator/stats"))["throttled"] == 1


async def test_throttled_429_with_no_body_and_retry_after(start_simulator, simulator_options):
    """A bare 429 with Retry-After: no body a GraphQL client could read."""
    options = dataclasses.replace(
        simulator_options,
        bucket_size=100.0,
        restore_rate=1.0,
        throttled_shape="empty",
        throttled_http_status=429,
        throttled_retry_after=0.5,
    )
    shop = await start_simulator(options)
    reply = await shop.graphql(PAGE)
    assert reply.status == 429
    assert not reply.body  # nothing to parse
    assert reply.headers["Retry-After"] == "0.5"


IN_PROGRESS = "A bulk query operation for this app and shop is already in progress."
IN_PROGRESS_ID = "A bulk query operation for this app and shop is already in progress: {id}."
MAXIMUM = "A maximum of 1 bulk operations can run at the same time."


@pytest.mark.parametrize(
    ("shape", "version", "refusal"),
    [
        ("code", "2025-10", (IN_PROGRESS, "OPERATION_IN_PROGRESS")),
        ("code", "2026-10", (MAXIMUM, "LIMIT_REACHED")),
        ("message", "2025-10", (IN_PROGRESS_ID, None)),
        ("message", "2026-10", (IN_PROGRESS_ID, None)),
    ],
)
async def test_busy_bulk_start_by_code_or_by_message(
    start_simulator, simulator_options, shape, version, refusal
):
    """While an export runs, another is refused: with a code, or (before 2026-01) by message and the running
    operation's id alone."""
    options = dataclasses.replace(
        simulator_options, bulk_query_rate=1.0, bulk_concurrency=1, bulk_busy_shape=shape
    )
    shop = await start_simulator(options)
    for index in range(3):  # three lines at one a second: the first export is still running
        await shop.product_set(shop.product_input(f"p{index}", [f"P{index}"]))
    first = await shop.graphql(RUN_QUERY, {"query": EXPORT}, version=version)
    running = first.data["bulkOperationRunQuery"]["bulkOperation"]["id"]
    second = await shop.graphql(RUN_QUERY, {"query": EXPORT}, version=version)
    payload = second.data["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    message, code = refusal
    assert payload["userErrors"] == [{"field": None, "message": message.format(id=running), "code": code}]
    assert (await shop.admin("GET", "/_simulator/stats"))["bulk_busy"] == 1


def test_default_options_keep_the_documented_shapes():
    """Nothing changes for a simulator started without the new options."""
    options = SimulatorOptions()
    assert (options.throttle_status, options.throttled_shape, options.bulk_busy_shape) == (
        "always",
        "code",
        "code",
    )
    assert options.throttled_retry_after is None


async def test_throttle_requests_fault_answers_throttled_whatever_the_bucket(simulator):
    """`throttle_requests` makes the next N requests THROTTLED with a full bucket, then lets them through."""
    await simulator.admin("POST", "/_simulator/faults", {"throttle_requests": 2})
    for _ in range(2):
        reply = await simulator.graphql(SHOP)
        assert reply.body["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert status_of(reply.body)["currentlyAvailable"] > 1
    assert (await simulator.graphql(SHOP)).body["data"]["shop"]["name"]
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["throttled"] == 2
