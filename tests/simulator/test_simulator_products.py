"""productSet, productDelete, inventorySetQuantities and the read fields, with Shopify's product semantics."""

from __future__ import annotations

import asyncio

PRODUCTS_BY_QUERY = """query($query: String, $after: String) {
  products(first: 2, query: $query, after: $after) {
    edges { cursor node { handle } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def codes(payload):
    return [error["code"] for error in payload["userErrors"]]


async def test_upsert_by_handle_creates_then_updates_same_product(simulator):
    """Re-sending a product with identifier.handle must converge on one product, not duplicate it."""
    first = await simulator.product_set(
        simulator.product_input("acme-tee", ["TEE-S", "TEE-M"]), {"handle": "acme-tee"}
    )
    assert first["userErrors"] == []
    changed = simulator.product_input("acme-tee", ["TEE-S", "TEE-M"], title="ACME Tee v2", price="21.00")
    second = await simulator.product_set(changed, {"handle": "acme-tee"})
    assert second["product"]["id"] == first["product"]["id"]
    assert second["product"]["title"] == "ACME Tee v2"
    assert {node["price"] for node in second["product"]["variants"]["nodes"]} == {"21.00"}
    data = await simulator.ok("{ products(first: 10) { nodes { id } } }")
    assert len(data["products"]["nodes"]) == 1


async def test_given_variant_list_replaces_existing_variants(simulator):
    """Variants not in the list are deleted, as productSet's list semantics say."""
    created = await simulator.product_set(simulator.product_input("tee", ["A", "B", "C"]), {"handle": "tee"})
    assert len(created["product"]["variants"]["nodes"]) == 3
    fewer = await simulator.product_set(simulator.product_input("tee", ["A"]), {"handle": "tee"})
    assert [node["sku"] for node in fewer["product"]["variants"]["nodes"]] == ["A"]
    data = await simulator.ok('{ productVariants(first: 10, query: "sku:B") { nodes { id } } }')
    assert data["productVariants"]["nodes"] == []


async def test_identifier_errors_use_schema_codes(simulator):
    """Each identifier misuse answers the ProductSetUserErrorCode the schema defines for it."""
    missing = await simulator.product_set({"title": "x"}, {"id": "gid://shopify/Product/999"})
    assert codes(missing) == ["NOT_FOUND"]
    both = await simulator.product_set({"title": "x", "id": "gid://shopify/Product/1"}, {"handle": "x"})
    assert codes(both) == ["ID_NOT_ALLOWED"]
    mismatch = await simulator.product_set({"title": "x", "handle": "y"}, {"handle": "x"})
    assert codes(mismatch) == ["INPUT_MISMATCH"]
    absent = await simulator.product_set({"title": "x"}, {"handle": "x"})
    assert codes(absent) == ["MISSING_FIELD_REQUIRED"]
    undefined = await simulator.product_set(
        {"title": "x", "metafields": [{"namespace": "erp", "key": "id", "type": "id", "value": "1"}]},
        {"customId": {"namespace": "erp", "key": "id", "value": "1"}},
    )
    assert codes(undefined) == ["INVALID_INPUT"]
    await simulator.define_id_metafield("erp", "id")
    custom = await simulator.product_set(
        {"title": "x", "metafields": [{"namespace": "erp", "key": "id", "type": "id", "value": "2"}]},
        {"customId": {"namespace": "erp", "key": "id", "value": "1"}},
    )
    assert codes(custom) == ["METAFIELD_MISMATCH"]
    data = await simulator.ok("{ products(first: 10) { nodes { id } } }")
    assert data["products"]["nodes"] == []


async def test_custom_id_upserts(simulator):
    """customId identifies the product through its metafield: the second call updates the first product."""
    metafields = [{"namespace": "erp", "key": "id", "type": "id", "value": "P-1"}]
    identifier = {"customId": {"namespace": "erp", "key": "id", "value": "P-1"}}
    await simulator.define_id_metafield("erp", "id")
    first = await simulator.product_set({"title": "One", "metafields": metafields}, identifier)
    second = await simulator.product_set({"title": "Two", "metafields": metafields}, identifier)
    assert first["product"]["id"] == second["product"]["id"]
    assert second["product"]["title"] == "Two"


async def test_custom_id_values_are_unique_across_products(simulator):
    """An id-typed value another product holds is refused: a custom ID names one product, never two."""
    await simulator.define_id_metafield("erp", "id")
    metafields = [{"namespace": "erp", "key": "id", "type": "id", "value": "P-1"}]
    made = await simulator.product_set({"title": "One", "handle": "one", "metafields": metafields})
    assert made["userErrors"] == []
    clash = await simulator.product_set({"title": "Two", "handle": "two", "metafields": metafields})
    assert codes(clash) == ["DUPLICATED_METAFIELD_VALUE"]
    data = await simulator.ok("{ products(first: 10) { nodes { title } } }")
    assert [node["title"] for node in data["products"]["nodes"]] == ["One"]


async def test_metafield_definition_create_and_read_back(simulator):
    """metafieldDefinitionCreate makes the definition once; a second create answers TAKEN."""
    created = await simulator.define_id_metafield("$app", "owner")
    assert created["userErrors"] == []
    again = await simulator.define_id_metafield("$app", "owner")
    assert [error["code"] for error in again["userErrors"]] == ["TAKEN"]
    data = await simulator.ok(
        'query { metafieldDefinition(identifier: {ownerType: PRODUCT, namespace: "$app", key: "owner"}) '
        "{ id namespace key type { name } } }"
    )
    assert data["metafieldDefinition"]["type"] == {"name": "id"}


async def test_handles_are_generated_with_collision_suffixes(simulator):
    """Without a handle, the title makes one; a taken handle gets -1, -2 (potion, potion-1)."""
    handles = []
    for _ in range(3):
        payload = await simulator.product_set({"title": "Potion: Strong & Blue!", "status": "ACTIVE"})
        handles.append(payload["product"]["handle"])
    assert handles == ["potion-strong-blue", "potion-strong-blue-1", "potion-strong-blue-2"]


async def test_explicit_handle_of_another_product_is_not_unique(simulator):
    """Renaming a product onto another product's handle must fail with HANDLE_NOT_UNIQUE."""
    await simulator.product_set({"title": "A", "handle": "a"})
    other = await simulator.product_set({"title": "B", "handle": "b"})
    clash = await simulator.product_set({"handle": "a"}, {"id": other["product"]["id"]})
    assert codes(clash) == ["HANDLE_NOT_UNIQUE"]


async def test_single_variant_product_uses_default_title(simulator):
    """A product created without options gets one variant under Title / Default Title, as on Shopify."""
    payload = await simulator.product_set({"title": "Plain", "status": "DRAFT"})
    (variant,) = payload["product"]["variants"]["nodes"]
    assert variant["title"] == "Default Title"
    assert variant["selectedOptions"] == [{"name": "Title", "value": "Default Title"}]
    assert payload["product"]["options"] == [{"name": "Title", "values": ["Default Title"]}]


async def test_option_and_variant_rules(simulator):
    """Too many options, inconsistent option values and lone options/variants are each refused."""
    four = simulator.product_input("x", ["A"])
    four["productOptions"] = [{"name": f"O{index}", "values": [{"name": "v"}]} for index in range(4)]
    assert codes(await simulator.product_set(four)) == ["OPTIONS_OVER_LIMIT"]
    wrong_value = simulator.product_input("x", ["A"])
    wrong_value["variants"][0]["optionValues"] = [{"optionName": "Size", "name": "XXL"}]
    assert codes(await simulator.product_set(wrong_value)) == ["OPTION_VALUE_DOES_NOT_EXIST"]
    wrong_option = simulator.product_input("x", ["A"])
    wrong_option["variants"][0]["optionValues"] = [{"optionName": "Colour", "name": "Size0"}]
    assert "OPTION_DOES_NOT_EXIST" in codes(await simulator.product_set(wrong_option))
    no_options = simulator.product_input("x", ["A"])
    del no_options["productOptions"]
    assert codes(await simulator.product_set(no_options)) == ["PRODUCT_OPTIONS_INPUT_MISSING"]
    no_variants = simulator.product_input("x", ["A"])
    del no_variants["variants"]
    assert codes(await simulator.product_set(no_variants)) == ["VARIANTS_INPUT_MISSING"]
    too_many = simulator.product_input("x", [f"S{index}" for index in range(2049)])
    assert codes(await simulator.product_set(too_many)) == ["VARIANTS_OVER_LIMIT"]


async def test_inventory_quantities_per_location(simulator):
    """Quantities set through productSet and inventorySetQuantities are read back per location."""
    data = await simulator.ok("{ locations(first: 5) { nodes { id } } }")
    location_id = data["locations"]["nodes"][0]["id"]
    product = simulator.product_input("stock", ["ST-1"])
    product["variants"][0]["inventoryQuantities"] = [
        {"locationId": location_id, "name": "available", "quantity": 7}
    ]
    payload = await simulator.product_set(product, {"handle": "stock"})
    item_id = payload["product"]["variants"]["nodes"][0]["inventoryItem"]["id"]
    result = await simulator.ok(
        """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input)
            @idempotent(key: "set-1") { inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
            userErrors { field message code } } }""",
        {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": item_id,
                        "locationId": location_id,
                        "quantity": 3,
                        "changeFromQuantity": 7,
                    }
                ],
            }
        },
    )
    group = result["inventorySetQuantities"]["inventoryAdjustmentGroup"]
    assert group["changes"] == [{"name": "available", "delta": -4, "quantityAfterChange": 3}]
    read = await simulator.ok(
        """query($query: String) { productVariants(first: 1, query: $query) { nodes {
            inventoryQuantity inventoryItem { inventoryLevels(first: 5) { nodes {
              location { id } quantities(names: ["available"]) { name quantity } } } } } } }""",
        {"query": "sku:ST-1"},
    )
    (variant,) = read["productVariants"]["nodes"]
    assert variant["inventoryQuantity"] == 3
    (level,) = variant["inventoryItem"]["inventoryLevels"]["nodes"]
    assert level["location"]["id"] == location_id
    assert level["quantities"] == [{"name": "available", "quantity": 3}]
    bad = await simulator.ok(
        """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input)
            @idempotent(key: "set-2") { userErrors { code } } }""",
        {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": "gid://shopify/InventoryItem/999",
                        "locationId": location_id,
                        "quantity": 3,
                        "changeFromQuantity": None,
                    }
                ],
            }
        },
    )
    assert bad["inventorySetQuantities"]["userErrors"] == [{"code": "INVALID_INVENTORY_ITEM"}]


async def test_product_delete_and_already_gone(simulator):
    """Deleting removes the product and its variants; deleting again is a userError (already gone)."""
    payload = await simulator.product_set(simulator.product_input("gone", ["G-1"]), {"handle": "gone"})
    product_id = payload["product"]["id"]
    query = "mutation($input: ProductDeleteInput!) { productDelete(input: $input) { deletedProductId userErrors { field message } } }"
    deleted = await simulator.ok(query, {"input": {"id": product_id}})
    assert deleted["productDelete"] == {"deletedProductId": product_id, "userErrors": []}
    again = await simulator.ok(query, {"input": {"id": product_id}})
    assert again["productDelete"]["deletedProductId"] is None
    assert again["productDelete"]["userErrors"]
    assert (await simulator.ok("query($id: ID!) { product(id: $id) { id } }", {"id": product_id}))[
        "product"
    ] is None


async def test_paging_and_query_filters(simulator):
    """first/after paging and the sku:, handle:, updated_at:> filters select what Shopify would."""
    for index in range(5):
        await simulator.product_set(
            simulator.product_input(f"p{index}", [f"SKU-{index}"]), {"handle": f"p{index}"}
        )
    seen, after = [], None
    while True:
        page = (await simulator.ok(PRODUCTS_BY_QUERY, {"after": after}))["products"]
        seen.extend(edge["node"]["handle"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["p0", "p1", "p2", "p3", "p4"]
    by_sku = await simulator.ok(PRODUCTS_BY_QUERY, {"query": "sku:SKU-3"})
    assert [edge["node"]["handle"] for edge in by_sku["products"]["edges"]] == ["p3"]
    by_handle = await simulator.ok(PRODUCTS_BY_QUERY, {"query": "handle:p1,p4"})
    assert [edge["node"]["handle"] for edge in by_handle["products"]["edges"]] == ["p1", "p4"]
    stamp = await simulator.ok('{ product: products(first: 1, query: "handle:p4") { nodes { updatedAt } } }')
    moment = stamp["product"]["nodes"][0]["updatedAt"]
    await asyncio.sleep(1.05)  # updatedAt has one-second precision, as on Shopify
    await simulator.product_set(simulator.product_input("p2", ["SKU-2"], title="changed"), {"handle": "p2"})
    newer = await simulator.ok(PRODUCTS_BY_QUERY, {"query": f"updated_at:>'{moment}'"})
    assert [edge["node"]["handle"] for edge in newer["products"]["edges"]] == ["p2"]


async def test_unknown_search_field_is_ignored_with_a_warning(simulator):
    """Shopify ignores an unknown search field and returns everything; a client must not read it as a filter."""
    await simulator.product_set(simulator.product_input("w", ["W-1"]), {"handle": "w"})
    reply = await simulator.graphql('{ products(first: 5, query: "colour:red") { nodes { handle } } }')
    assert [node["handle"] for node in reply.body["data"]["products"]["nodes"]] == ["w"]
    assert reply.body["extensions"]["search"][0]["warnings"][0]["field"] == "colour"


async def test_connection_without_first_or_last_is_an_error(simulator):
    """Shopify refuses unbounded connections outside bulk queries."""
    reply = await simulator.graphql("{ products { nodes { id } } }")
    assert reply.body["errors"][0]["message"] == "you must provide one of first or last"
