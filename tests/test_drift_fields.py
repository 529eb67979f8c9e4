"""Drift field by field (erpsync/drift_fields.py, pure), the documents the check reads the shop with, and
what the worker counts of it: what counts as drift, what a write back's state becomes, and Shopify's limits."""

from __future__ import annotations

import copy
from typing import Any

import pytest

WRITTEN = {
    "title": "Tee",
    "handle": "tee-p1",
    "status": "ACTIVE",
    "tags": ["b", "a"],
    "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
    "variants": [
        {
            "sku": "A-S",
            "price": "10.00",
            "optionValues": [{"optionName": "Size", "name": "S"}],
            "inventoryItem": {
                "sku": "A-S",
                "tracked": True,
                "measurement": {"weight": {"value": 1.5, "unit": "KILOGRAMS"}},
            },
            "inventoryQuantities": [{"locationId": "L", "name": "available", "quantity": 5}],
            "metafields": [
                {"namespace": "custom", "key": "care", "type": "single_line_text_field", "value": "wash"}
            ],
        }
    ],
}


@pytest.mark.parametrize(
    ("shop_edit", "expected"),
    [
        ({}, []),
        ({"tags": ["a", "b"]}, []),  # the same tags in another order
        ({"variants.0.price": "10.0"}, []),  # the same amount
        ({"variants.0.inventoryQuantities": []}, []),  # stock is never drift
        ({"handle": "renamed", "status": "DRAFT"}, []),  # not mapped: not compared
        ({"title": "Renamed"}, [("title", "Tee", "Renamed")]),
        ({"variants.0.price": "12.50"}, [("variants[A-S].price", "10.00", "12.50")]),
        (
            {"variants.0.inventoryItem": {"measurement": {"weight": {"value": 2.0, "unit": "KILOGRAMS"}}}},
            [
                (
                    "variants[A-S].inventoryItem.measurement.weight",
                    {"value": 1.5, "unit": "KILOGRAMS"},
                    {"value": 2.0, "unit": "KILOGRAMS"},
                )
            ],
        ),
        ({"variants.0.metafields": []}, [("variants[A-S].metafields[custom.care]", "wash", None)]),
    ],
)
def test_what_counts_as_drift(shop_edit: dict[str, Any], expected: list[tuple[str, Any, Any]]) -> None:
    """Only mapped fields the written state holds, compared as Shopify means them."""
    from erpsync.drift_fields import find_drift

    shop = copy.deepcopy(WRITTEN)
    for path, value in shop_edit.items():
        if path.startswith("variants.0."):
            shop["variants"][0][path.removeprefix("variants.0.")] = value
        else:
            shop[path] = value
    found = find_drift(WRITTEN, shop, {"title", "variant.sku", "variant.price"})
    assert [(d.field, d.ours, d.theirs) for d in found] == expected


def test_a_written_state_takes_the_shops_values_for_a_write_back() -> None:
    """After a write back's preparation the plan sees exactly the drift: a hand price restored is a
    variant update of that price alone."""
    from erpsync.changes import compare
    from erpsync.drift_fields import find_drift, with_theirs

    shop = copy.deepcopy(WRITTEN)
    shop["variants"][0]["price"] = "99.00"
    drifts = find_drift(WRITTEN, shop, {"title"})
    state = with_theirs(WRITTEN, shop, drifts)
    found = compare(state, WRITTEN)
    assert (found.kind, found.changes) == (
        "variants",
        [{"field": "variants[A-S].price", "before": "99.00", "after": "10.00"}],
    )


def test_the_drift_reads_hold_against_the_schema_and_shopifys_limits() -> None:
    """The window, the paginated read (under 1,000 points for a config mapping everything) and the bulk
    export (at most 5 connections, 2 levels) are valid 2026-10 documents."""
    from graphql import parse, validate

    from erpsync.shopify.drift_reads import WINDOW, Reading, export_query, products_page_document
    from shopify_simulator.cost import CostCalculator
    from shopify_simulator.export import validate_bulk_query
    from shopify_simulator.schema import load_schema, prepare_document, prepare_request

    schema = load_schema()
    reading = Reading(
        weight=True,
        product_metafields=("custom.a", "custom.b"),
        variant_metafields=("custom.c",),
        variants=20,
    )
    document, per_page = products_page_document(reading)
    for text in (WINDOW.text, document.text, export_query("updated_at:>'2026-01-01T00:00:00Z'", reading)):
        assert validate(schema, parse(text)) == []
    variables = {"query": "x", "first": per_page, "after": None}
    cost = CostCalculator(schema, prepare_request(document.text, variables)).requested()
    assert cost <= 1000
    assert per_page >= 1
    assert validate_bulk_query(prepare_document(export_query("x", reading))) is None


def test_a_finished_runs_drift_is_counted_by_config_shop_and_action() -> None:
    """What the worker counts of a run (`/metrics`): drift by config, shop and what was done."""
    from erpsync.constants import RunStatus
    from erpsync.metrics import REGISTRY, observe_run
    from erpsync.run_result import SyncResult

    labels = {"config_id": "metrics-drift", "shop": "acme.myshopify.com"}
    drift = {"written_back": 2, "kept": 0, "reported": 1, "shop": "acme.myshopify.com"}
    observe_run("metrics-drift", SyncResult(1, RunStatus.SUCCEEDED, {"drift": drift}))
    assert REGISTRY.get_sample_value("erpsync_drift_found_total", {**labels, "action": "written_back"}) == 2
    assert REGISTRY.get_sample_value("erpsync_drift_found_total", {**labels, "action": "reported"}) == 1
    assert REGISTRY.get_sample_value("erpsync_drift_found_total", {**labels, "action": "kept"}) is None
