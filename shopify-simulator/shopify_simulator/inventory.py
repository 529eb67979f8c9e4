"""The inventory mutations: absolute quantities per item and location, and stocking an item somewhere.

https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities ·
https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryActivate
"""

from __future__ import annotations

import uuid
from typing import Any

from shopify_simulator.connections import View
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.idempotency import answered_once
from shopify_simulator.products import inventory_set_quantities
from shopify_simulator.state import ShopState, format_datetime, utc_now
from shopify_simulator.views import inventory_level_view


def _count(info: ResolveInfo) -> ExecutionContext:
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    return context


def mutation_inventory_set_quantities(info: ResolveInfo, **arguments: Any) -> View:
    """``inventorySetQuantities(input) @idempotent(key:)``: each key answered once (``idempotency.py``)."""
    context = _count(info)
    return answered_once(info, arguments, lambda: _set_quantities(context, arguments["input"]))


# From 2026-04 each quantity must carry `changeFromQuantity`, null to opt out: "you must explicitly pass
# in a value (even if it's null), or else you will get an error" (InventorySetQuantityInput, 2026-07); the
# code is unconfirmed, COMPARE_QUANTITY_REQUIRED the enum's nearest.
COMPARE_REQUIRED_FROM = "2026-04"


def _set_quantities(context: ExecutionContext, set_input: dict[str, Any]) -> View:
    if context.api_version >= COMPARE_REQUIRED_FROM:
        missing = [i for i, entry in enumerate(set_input["quantities"]) if "changeFromQuantity" not in entry]
        if missing:
            return {
                "inventoryAdjustmentGroup": None,
                "userErrors": [
                    {
                        "field": ["input", "quantities", str(index), "changeFromQuantity"],
                        "message": "The changeFromQuantity argument must be given to each quantity.",
                        "code": "COMPARE_QUANTITY_REQUIRED",
                    }
                    for index in missing
                ],
            }
    if context.faults.inventory_races > 0:  # a sale lands between the client's read and this write
        context.faults.inventory_races -= 1
        for quantity in set_input["quantities"]:
            item = context.state.find_inventory_item(quantity["inventoryItemId"])
            levels = item.levels.get(quantity["locationId"]) if item is not None else None
            if levels and levels.get("available", 0) > 0:
                levels["available"] -= 1
                levels["committed"] = levels.get("committed", 0) + 1
    outcome = inventory_set_quantities(context.state, set_input)
    group: View | None = None
    if not outcome.user_errors:
        now = format_datetime(utc_now())

        def changes(_info: ResolveInfo, **_arguments: Any) -> list[View]:
            return [
                {
                    "name": change["name"],
                    "delta": change["delta"],
                    "quantityAfterChange": change["quantityAfterChange"],
                    "ledgerDocumentUri": None,
                }
                for change in outcome.changes
            ]

        group = {
            "__typename": "InventoryAdjustmentGroup",
            "id": f"gid://shopify/InventoryAdjustmentGroup/{uuid.uuid4().int % 10**12}",
            "createdAt": now,
            "reason": set_input["reason"],
            "referenceDocumentUri": set_input.get("referenceDocumentUri"),
            "changes": changes,
        }
    return {"inventoryAdjustmentGroup": group, "userErrors": outcome.user_errors}


def mutation_inventory_activate(info: ResolveInfo, **arguments: Any) -> View:
    """``inventoryActivate(inventoryItemId, locationId, available)``: stock an item at a location.
    https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryActivate"""
    context = _count(info)
    state = context.state
    item = state.find_inventory_item(arguments["inventoryItemId"])
    location_id = arguments["locationId"]
    if item is None or location_id not in state.locations:
        which = "inventoryItemId" if item is None else "locationId"
        return {
            "inventoryLevel": None,
            "userErrors": [{"field": [which], "message": f"The {which} is not valid."}],
        }
    levels = item.levels.setdefault(location_id, {"available": 0, "on_hand": 0})
    if arguments.get("available") is not None:
        levels["available"] = int(arguments["available"])
        levels["on_hand"] = int(arguments["available"])
    item.updated_at = utc_now()
    return {"inventoryLevel": inventory_level_view(state, item, location_id), "userErrors": []}


def sell_units(state: ShopState, sku: str, quantity: int, location_id: str | None = None) -> int:
    """A sale made in the shop: ``quantity`` units of ``sku`` leave ``available`` for ``committed`` (an order
    not yet fulfilled), as an order does; returns what is available afterwards. For tests: the admin
    endpoint ``POST /_simulator/sell``. Quantity names: https://shopify.dev/docs/api/admin-graphql/latest/objects/InventoryLevel
    """
    variant = next((variant for variant in state.all_variants() if variant.sku == sku), None)
    if variant is None:
        raise ValueError(f"no variant has SKU {sku!r}")
    location = location_id or next(iter(state.locations))
    levels = variant.inventory_item.levels.get(location)
    if levels is None:
        raise ValueError(f"SKU {sku!r} is not stocked at {location}")
    if quantity < 1 or quantity > levels.get("available", 0):
        raise ValueError(f"cannot sell {quantity} of SKU {sku!r}: {levels.get('available', 0)} available")
    levels["available"] = levels.get("available", 0) - quantity
    levels["committed"] = levels.get("committed", 0) + quantity
    variant.inventory_item.updated_at = utc_now()
    return levels["available"]
