"""What a shop tells of the changes made to it: `updatedAt` moved by every hand edit, `updated_at:>`
searches and `productsCount`, and product events through `events` and the deprecated `deletionEvents`."""

from __future__ import annotations

import asyncio
from typing import Any

EVENTS = """query($q: String) { events(first: 50, query: $q) {
  nodes { id action createdAt ... on BasicEvent { subjectId subjectType } } } }"""
DELETIONS = """query($q: String) { deletionEvents(first: 50, query: $q, subjectTypes: [PRODUCT]) {
  nodes { occurredAt subjectId subjectType } } }"""
COUNT = "query($q: String) { productsCount(query: $q) { count precision } }"
UPDATED_AT = "query($id: ID!) { product(id: $id) { updatedAt title vendor seo { title } } }"


async def test_hand_edits_move_updated_at_and_are_found_by_search(simulator: Any) -> None:
    """productUpdate, productVariantsBulkUpdate and productSet each move `updatedAt`; `updated_at:>T`
    finds a product updated strictly after T (to the second) and `productsCount` counts the same."""
    created = (await simulator.product_set(simulator.product_input("tee", ["A"]), {"handle": "tee"}))[
        "product"
    ]
    other = (await simulator.product_set(simulator.product_input("cap", ["B"]), {"handle": "cap"}))["product"]
    before = created["updatedAt"]
    assert (await simulator.ok(COUNT, {"q": f"updated_at:>'{before}'"}))["productsCount"] == {
        "count": 0,
        "precision": "EXACT",
    }
    await asyncio.sleep(1.05)  # Shopify's times are to the second
    edit = await simulator.ok(
        "mutation($p: ProductUpdateInput!) { productUpdate(product: $p) { product { id } userErrors { message } } }",
        {"p": {"id": created["id"], "vendor": "Hand", "seo": {"title": "By hand"}}},
    )
    assert edit["productUpdate"]["userErrors"] == []
    now = (await simulator.ok(UPDATED_AT, {"id": created["id"]}))["product"]
    assert now["updatedAt"] > before
    assert (now["vendor"], now["seo"]["title"], now["title"]) == ("Hand", "By hand", created["title"])
    found = await simulator.ok(
        "{ products(first: 5, query: \"updated_at:>'" + before + "'\") { nodes { id } } }"
    )
    assert [node["id"] for node in found["products"]["nodes"]] == [created["id"]]
    assert (await simulator.ok(COUNT, {"q": f"updated_at:>'{before}'"}))["productsCount"]["count"] == 1
    assert (await simulator.ok(COUNT, {"q": f"updated_at:>'{now['updatedAt']}'"}))["productsCount"][
        "count"
    ] == 0
    assert other["id"] != created["id"]


async def test_product_events_filter_by_action_subject_and_time(simulator: Any) -> None:
    """Creates, updates and deletes are events; `action:destroy AND subject_type:PRODUCT AND
    created_at:>T` lists the deletions after T, and `deletionEvents` the same deletions."""
    tee = (await simulator.product_set(simulator.product_input("tee", ["A"]), {"handle": "tee"}))["product"]
    cap = (await simulator.product_set(simulator.product_input("cap", ["B"]), {"handle": "cap"}))["product"]
    await simulator.product_set(simulator.product_input("tee", ["A"], price="5.00"), {"handle": "tee"})
    await simulator.ok(
        "mutation($i: ProductDeleteInput!) { productDelete(input: $i) { deletedProductId } }",
        {"i": {"id": cap["id"]}},
    )
    every = (await simulator.ok(EVENTS, {"q": None}))["events"]["nodes"]
    assert [(e["action"], e["subjectId"]) for e in every] == [
        ("create", tee["id"]),
        ("create", cap["id"]),
        ("update", tee["id"]),
        ("destroy", cap["id"]),
    ]
    assert {e["subjectType"] for e in every} == {"PRODUCT"}
    since = every[0]["createdAt"]
    deleted = await simulator.ok(
        EVENTS, {"q": f"subject_type:PRODUCT AND action:destroy AND created_at:>='{since}'"}
    )
    assert [e["subjectId"] for e in deleted["events"]["nodes"]] == [cap["id"]]
    later = await simulator.ok(EVENTS, {"q": f"action:destroy AND created_at:>'{every[-1]['createdAt']}'"})
    assert later["events"]["nodes"] == []
    assert (await simulator.ok(DELETIONS, {"q": None}))["deletionEvents"]["nodes"] == [
        {"occurredAt": every[-1]["createdAt"], "subjectId": cap["id"], "subjectType": "PRODUCT"}
    ]
