"""inventorySetQuantities with its compare-and-set and its idempotency key, and sales made in the shop."""

from __future__ import annotations

import dataclasses
from typing import Any

from shopify_simulator.server import SimulatorOptions

SET_QUANTITIES = """
mutation call($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""
WITHOUT_KEY = """
mutation call($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) { userErrors { field message code } }
}
"""
LEVELS = """
query($ids: [ID!]!, $location: ID!) { nodes(ids: $ids) {
  ... on ProductVariant { id inventoryItem { id inventoryLevel(locationId: $location) {
    quantities(names: ["available", "committed"]) { name quantity } } } }
  ... on InventoryItem { id } } }
"""


async def stocked_item(simulator: Any, sku: str, quantity: int) -> tuple[str, str, str]:
    """A product with one variant holding `quantity` at the first location: (location, variant, item)."""
    data = await simulator.ok("{ locations(first: 1) { nodes { id } } }")
    location = data["locations"]["nodes"][0]["id"]
    product = simulator.product_input(sku.lower(), [sku])
    product["variants"][0]["inventoryQuantities"] = [
        {"locationId": location, "name": "available", "quantity": quantity}
    ]
    payload = await simulator.product_set(product, {"handle": sku.lower()})
    variant = payload["product"]["variants"]["nodes"][0]
    return location, variant["id"], variant["inventoryItem"]["id"]


def set_input(item: str, location: str, quantity: int, change_from: int | None) -> dict[str, Any]:
    entry = {"inventoryItemId": item, "locationId": location, "quantity": quantity}
    return {
        "name": "available",
        "reason": "correction",
        "quantities": [{**entry, "changeFromQuantity": change_from}],
    }


async def levels(simulator: Any, variant: str, location: str) -> dict[str, int]:
    data = await simulator.ok(LEVELS, {"ids": [variant], "location": location})
    quantities = data["nodes"][0]["inventoryItem"]["inventoryLevel"]["quantities"]
    return {entry["name"]: entry["quantity"] for entry in quantities}


async def test_the_same_key_and_input_is_answered_once(simulator: Any) -> None:
    """Sent twice with one key, a quantity change happens once and both answers are the first one's;
    the same key with another input is refused, a new key with a stale compare fails on the compare."""
    location, variant, item = await stocked_item(simulator, "ID-1", 10)
    variables = {"input": set_input(item, location, 4, 10), "key": "k-1"}
    first = (await simulator.ok(SET_QUANTITIES, variables))["inventorySetQuantities"]
    again = (await simulator.ok(SET_QUANTITIES, variables))["inventorySetQuantities"]
    assert first["userErrors"] == []
    assert again == first
    assert (await levels(simulator, variant, location))["available"] == 4
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["inventory"]["idempotent_replays"] == 1

    other = {"input": set_input(item, location, 5, 10), "key": "k-1"}
    refused = (await simulator.ok(SET_QUANTITIES, other))["inventorySetQuantities"]
    assert [error["code"] for error in refused["userErrors"]] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    stale = (await simulator.ok(SET_QUANTITIES, {**other, "key": "k-2"}))["inventorySetQuantities"]
    assert [error["code"] for error in stale["userErrors"]] == ["CHANGE_FROM_QUANTITY_STALE"]
    failed_before = (await simulator.ok(SET_QUANTITIES, {**other, "key": "k-2"}))["inventorySetQuantities"]
    assert [error["code"] for error in failed_before["userErrors"]] == ["IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"]
    assert (await levels(simulator, variant, location))["available"] == 4


async def test_a_missing_key_is_refused_from_2026_04_unless_told_otherwise(
    start_simulator: Any, simulator_options: SimulatorOptions
) -> None:
    """2026-04 and later refuse inventorySetQuantities without `@idempotent` (the changelog); 2026-01
    takes it; `missing_idempotency_key="accept"` takes it everywhere (what a merchant found)."""
    strict = await start_simulator(simulator_options)
    location, _, item = await stocked_item(strict, "ID-2", 10)
    variables = {"input": set_input(item, location, 3, 10)}
    reply = await strict.graphql(WITHOUT_KEY, variables)
    assert "@idempotent" in reply.body["errors"][0]["message"]
    assert reply.body["data"]["inventorySetQuantities"] is None
    older = await strict.graphql(WITHOUT_KEY, variables, version="2026-01")
    assert older.body["data"]["inventorySetQuantities"]["userErrors"] == []
    # From 2026-04 each quantity names the quantity it replaces, or null: left out, it is refused.
    entry = {"inventoryItemId": item, "locationId": location, "quantity": 1}
    bare = {"input": {"name": "available", "reason": "correction", "quantities": [entry]}, "key": "k-3"}
    refused = (await strict.ok(SET_QUANTITIES, bare))["inventorySetQuantities"]
    assert [error["code"] for error in refused["userErrors"]] == ["COMPARE_QUANTITY_REQUIRED"]

    lenient = await start_simulator(dataclasses.replace(simulator_options, missing_idempotency_key="accept"))
    location, _, item = await stocked_item(lenient, "ID-3", 10)
    data = await lenient.ok(WITHOUT_KEY, {"input": set_input(item, location, 3, 10)})
    assert data["inventorySetQuantities"]["userErrors"] == []


async def test_a_sale_takes_units_from_available(simulator: Any) -> None:
    """`POST /_simulator/sell` is an order: available goes down, committed up; selling more than is
    available, or an unknown SKU, is refused with 400."""
    location, variant, _ = await stocked_item(simulator, "ID-4", 10)
    sold = await simulator.admin("POST", "/_simulator/sell", {"sku": "ID-4", "quantity": 3})
    assert sold == {"sku": "ID-4", "available": 7}
    assert await levels(simulator, variant, location) == {"available": 7, "committed": 3}
    for body in ({"sku": "ID-4", "quantity": 8}, {"sku": "NOPE", "quantity": 1}):
        async with simulator.session.post(simulator.url("/_simulator/sell"), json=body) as response:
            assert response.status == 400
