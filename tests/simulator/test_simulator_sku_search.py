"""`sku:` searches: Shopify's syntax (quoted values, backslash escapes, OR), answered from the SKU index
exactly as a scan of every variant would answer them, after any sequence of writes.

https://shopify.dev/docs/api/usage/search-syntax
"""

from __future__ import annotations

from typing import Any

from test_simulator_variants_bulk import made, update

SEARCH = """query($query: String, $first: Int!, $after: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { id sku product { id } }
    pageInfo { hasNextPage endCursor }
  }
}"""
PRODUCTS = "query($query: String) { products(first: 50, query: $query) { nodes { handle } } }"


def quoted(sku: str) -> str:
    return 'sku:"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def found(simulator: Any, query: str) -> list[str]:
    """The SKUs a search returns, in variant id order."""
    data = await simulator.ok(SEARCH, {"query": query, "first": 250})
    assert data["productVariants"]["pageInfo"]["hasNextPage"] is False
    return [node["sku"] for node in data["productVariants"]["nodes"]]


async def scanned(simulator: Any, sku: str) -> list[str]:
    """The variants holding `sku` (compared as search compares, ignoring case), by a query no index
    answers: a negated term alone makes the simulator scan every variant."""
    data = await simulator.ok(SEARCH, {"query": "-sku:no-such-sku", "first": 250})
    return [
        node["id"] for node in data["productVariants"]["nodes"] if (node["sku"] or "").lower() == sku.lower()
    ]


async def ids(simulator: Any, query: str) -> list[str]:
    data = await simulator.ok(SEARCH, {"query": query, "first": 250})
    return [node["id"] for node in data["productVariants"]["nodes"]]


async def test_quoted_skus_are_found_whole(simulator: Any) -> None:
    """Spaces, colons, quotes, backslashes and commas stay inside a quoted value; `a,b` unquoted is
    either value; a quoted `A,B` is one SKU and finds neither A nor B."""
    odd = ["TEE S", "A:B", 'QU"OTE', "BACK\\SLASH", "A,B", "(PAREN)"]
    await made(simulator, "odd", odd)
    await made(simulator, "plain", ["A", "B"])
    for sku in odd:
        assert await found(simulator, quoted(sku)) == [sku]
    assert await found(simulator, " OR ".join(quoted(sku) for sku in odd)) == odd
    assert await found(simulator, "sku:A,B") == ["A", "B"]
    assert await found(simulator, "sku:A\\:B") == ["A:B"]
    assert await found(simulator, 'sku:"tee s"') == ["TEE S"]  # search ignores case
    assert await found(simulator, 'sku:"TEE"') == []  # a whole value, not a word of it
    data = await simulator.ok(PRODUCTS, {"query": f"{quoted('A:B')} OR {quoted('B')}"})
    assert [node["handle"] for node in data["products"]["nodes"]] == ["odd", "plain"]


async def test_index_answers_as_a_scan_after_every_kind_of_write(simulator: Any) -> None:
    """SKUs renamed by productSet and by productVariantsBulkUpdate, a variant dropped from a product's
    list, a SKU taken up by another product, a product deleted: each search finds what a scan finds."""
    first = await made(simulator, "first", ["X1", "X2"])
    second = await made(simulator, "second", ["Y1"])
    assert await found(simulator, "sku:X1 OR sku:X2 OR sku:Y1") == ["X1", "X2", "Y1"]  # index built
    kept = first["variants"]["nodes"][1]["id"]
    renamed = await simulator.product_set(
        {
            "productOptions": [{"name": "Size", "values": [{"name": "Size1"}]}],
            "variants": [
                {"id": kept, "optionValues": [{"optionName": "Size", "name": "Size1"}], "sku": "X3"}
            ],
        },
        {"id": first["id"]},
    )
    assert renamed["userErrors"] == []
    item_sku = await update(
        simulator,
        second["id"],
        [{"id": second["variants"]["nodes"][0]["id"], "inventoryItem": {"sku": "Y2"}}],
    )
    assert item_sku["userErrors"] == []
    third = await made(simulator, "third", ["X1", "Y1"])
    deleted = await simulator.ok(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }", {"id": third["id"]}
    )
    assert deleted["productDelete"]["deletedProductId"] == third["id"]
    await made(simulator, "fourth", ["Y1"])
    for sku in ["X1", "X2", "X3", "Y1", "Y2", "x3"]:
        assert await ids(simulator, quoted(sku)) == await scanned(simulator, sku), sku
    assert await found(simulator, "sku:X1 OR sku:X2 OR sku:X3 OR sku:Y1 OR sku:Y2") == ["X3", "Y2", "Y1"]


async def test_a_search_matching_more_than_a_page_is_paged(simulator: Any) -> None:
    """Three products holding one SKU, searched two a page: the cursor gives the third; the simulator
    counts both requests as searches."""
    for handle in ("one", "two", "three"):
        await made(simulator, handle, ["DUP"])
    before = (await simulator.admin("GET", "/_simulator/stats"))["searches"].get("productVariants", 0)
    page = (await simulator.ok(SEARCH, {"query": 'sku:"DUP"', "first": 2}))["productVariants"]
    assert len(page["nodes"]) == 2
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await simulator.ok(
        SEARCH, {"query": 'sku:"DUP"', "first": 2, "after": page["pageInfo"]["endCursor"]}
    )
    assert len(rest["productVariants"]["nodes"]) == 1
    assert rest["productVariants"]["pageInfo"]["hasNextPage"] is False
    holders = {node["product"]["id"] for node in page["nodes"] + rest["productVariants"]["nodes"]}
    assert len(holders) == 3
    after = (await simulator.admin("GET", "/_simulator/stats"))["searches"]["productVariants"]
    assert after - before == 2


async def test_variants_count_counts_what_a_search_finds(simulator: Any) -> None:
    """`productVariantsCount`: every variant, or those a query matches, capped at `limit`."""
    query = "query($q: String, $limit: Int) { productVariantsCount(query: $q, limit: $limit) { count precision } }"
    empty = await simulator.ok(query, {"limit": 1})
    assert empty["productVariantsCount"] == {"count": 0, "precision": "EXACT"}
    await made(simulator, "tee", ["A", "B", "C"])
    every = await simulator.ok(query, {})
    assert every["productVariantsCount"] == {"count": 3, "precision": "EXACT"}
    capped = await simulator.ok(query, {"limit": 1})
    assert capped["productVariantsCount"] == {"count": 1, "precision": "AT_LEAST"}
    some = await simulator.ok(query, {"q": "sku:A OR sku:C"})
    assert some["productVariantsCount"] == {"count": 2, "precision": "EXACT"}


async def test_id_search_finds_the_products_named_and_only_them(simulator: Any) -> None:
    """`id:1 OR id:3` (looked up, not scanned) and the same with a further term, filtered as a scan is;
    a deleted product's id finds nothing."""
    made_ids = [(await made(simulator, f"p{n}", [f"S{n}"]))["id"] for n in range(4)]
    numbers = [product_id.rsplit("/", 1)[-1] for product_id in made_ids]
    query = "query($q: String) { products(first: 50, query: $q) { nodes { id handle } } }"
    data = await simulator.ok(query, {"q": f"id:{numbers[0]} OR id:{numbers[2]} OR id:999999"})
    assert [node["id"] for node in data["products"]["nodes"]] == [made_ids[0], made_ids[2]]
    narrowed = await simulator.ok(query, {"q": f"id:{numbers[0]} handle:p9 OR id:{numbers[3]}"})
    assert [node["handle"] for node in narrowed["products"]["nodes"]] == ["p3"]
    await simulator.ok(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId } }", {"id": made_ids[3]}
    )
    gone = await simulator.ok(query, {"q": f"id:{numbers[3]}"})
    assert gone["products"]["nodes"] == []
