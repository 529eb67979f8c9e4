"""Calculated query cost and the leaky bucket, as Shopify documents them."""

from __future__ import annotations

import dataclasses

PAGE = "{ products(first: 250) { edges { node { id } } } }"


async def test_connection_cost_is_two_plus_page_size_and_unused_part_is_refunded(simulator):
    """requestedQueryCost follows Shopify's rules; the actual cost counts only what came back."""
    await simulator.product_set({"title": "One"})
    reply = await simulator.graphql(PAGE)
    cost = reply.body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 252
    assert cost["actualQueryCost"] == 3
    nested = await simulator.graphql(
        "{ products(first: 10) { nodes { id variants(first: 5) { nodes { sku } } } } }"
    )
    assert nested.body["extensions"]["cost"]["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)


async def test_mutation_cost_includes_product_set_dynamic_part(simulator):
    """productSet costs 10 plus 0.2 per variant; a client pacing by cost must see it."""
    variables = {"input": simulator.product_input("c", [f"C{index}" for index in range(10)])}
    reply = await simulator.graphql(
        "mutation($input: ProductSetInput!) { productSet(input: $input) { userErrors { code } } }", variables
    )
    assert reply.body["extensions"]["cost"]["requestedQueryCost"] == 12


async def test_query_over_max_cost_is_refused_before_running(simulator):
    """A query above 1000 points is refused with MAX_COST_EXCEEDED and never runs."""
    reply = await simulator.graphql(
        "{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }"
    )
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["maxCost"] == 1000
    assert "data" not in reply.body


async def test_short_bucket_answers_throttled(start_simulator, simulator_options):
    """When the bucket cannot pay the requested cost the answer is THROTTLED with the cost status."""
    tight = await start_simulator(dataclasses.replace(simulator_options, bucket_size=200.0, restore_rate=1.0))
    first = await tight.graphql("{ shop { name } }")
    assert first.status == 200
    assert "errors" not in first.body
    second = await tight.graphql(PAGE)
    assert second.status == 200
    (error,) = second.body["errors"]
    assert error == {
        "message": "Throttled",
        "extensions": {
            "code": "THROTTLED",
            "documentation": "https://shopify.dev/api/usage/limits#rate-limits",
        },
    }
    cost = second.body["extensions"]["cost"]
    assert cost["actualQueryCost"] is None
    assert cost["requestedQueryCost"] == 252
    assert cost["throttleStatus"]["currentlyAvailable"] < 252
    stats = await tight.admin("GET", "/_simulator/stats")
    assert stats["throttled"] == 1


async def test_throttled_status_can_be_429(start_simulator, simulator_options):
    """The unconfirmed 429 reading is available so a client can be tested under both."""
    tight = await start_simulator(
        dataclasses.replace(simulator_options, bucket_size=100.0, restore_rate=1.0, throttled_http_status=429)
    )
    reply = await tight.graphql(PAGE)
    assert reply.status == 429
    assert reply.body["errors"][0]["extensions"]["code"] == "THROTTLED"


async def test_plan_sets_restore_rate(start_simulator, simulator_options):
    """--plan plus restores 1000 points a second with a bucket of 20x (the simulator's reading)."""
    plus = await start_simulator(dataclasses.replace(simulator_options, plan="plus"))
    reply = await plus.graphql("{ shop { name } }")
    status = reply.body["extensions"]["cost"]["throttleStatus"]
    assert status["restoreRate"] == 1000.0
    assert status["maximumAvailable"] == 20000.0
