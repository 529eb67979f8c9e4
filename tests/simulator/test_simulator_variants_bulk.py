"""productVariantsBulkUpdate: fields of a product's own variants by id, all or nothing by default.

https://shopify.dev/docs/api/admin-graphql/latest/mutations/productVariantsBulkUpdate
"""

from __future__ import annotations

from typing import Any

UPDATE = """
mutation($productId: ID!, $variants: [ProductVariantsBulkInput!]!, $partial: Boolean) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: $partial) {
    product { id }
    productVariants { id sku price compareAtPrice barcode }
    userErrors { field message code }
  }
}
"""
VARIANTS = "query($id: ID!) { product(id: $id) { variants(first: 10) { nodes { id sku price barcode } } } }"


async def made(simulator: Any, handle: str, skus: list[str]) -> dict[str, Any]:
    created = await simulator.product_set(simulator.product_input(handle, skus), {"handle": handle})
    assert created["userErrors"] == []
    product: dict[str, Any] = created["product"]
    return product


async def update(simulator: Any, product_id: str, variants: list[dict[str, Any]], **more: Any) -> Any:
    data = await simulator.ok(UPDATE, {"productId": product_id, "variants": variants, **more})
    return data["productVariantsBulkUpdate"]


async def prices(simulator: Any, product_id: str) -> dict[str, str]:
    data = await simulator.ok(VARIANTS, {"id": product_id})
    return {node["sku"]: node["price"] for node in data["product"]["variants"]["nodes"]}


async def test_only_the_named_fields_of_the_named_variants_change(simulator: Any) -> None:
    product = await made(simulator, "tee", ["A", "B"])
    first = product["variants"]["nodes"][0]["id"]
    payload = await update(simulator, product["id"], [{"id": first, "price": "25.00", "barcode": "123"}])
    assert payload["userErrors"] == []
    assert payload["product"]["id"] == product["id"]
    assert payload["productVariants"] == [
        {"id": first, "sku": "A", "price": "25.00", "compareAtPrice": None, "barcode": "123"}
    ]
    assert await prices(simulator, product["id"]) == {"A": "25.00", "B": "19.90"}
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["mutations"]["productVariantsBulkUpdate"] == 1
    assert stats["variants_written"] == 2 + 1  # productSet wrote two, the update one


async def test_another_products_variant_refuses_the_whole_call(simulator: Any) -> None:
    """allowPartialUpdates false (the default): one refused variant leaves every variant as it was."""
    tee = await made(simulator, "tee", ["A", "B"])
    cap = await made(simulator, "cap", ["C"])
    variants = [
        {"id": tee["variants"]["nodes"][0]["id"], "price": "1.00"},
        {"id": cap["variants"]["nodes"][0]["id"], "price": "2.00"},
    ]
    payload = await update(simulator, tee["id"], variants)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("MUST_BE_FOR_THIS_PRODUCT", ["variants", "1", "id"])
    ]
    assert payload["productVariants"] is None
    assert await prices(simulator, tee["id"]) == {"A": "19.90", "B": "19.90"}
    partial = await update(simulator, tee["id"], variants, partial=True)
    assert [variant["sku"] for variant in partial["productVariants"]] == ["A"]
    assert await prices(simulator, tee["id"]) == {"A": "1.00", "B": "19.90"}


async def test_schema_codes_for_what_the_call_cannot_do(simulator: Any) -> None:
    tee = await made(simulator, "tee", ["A"])
    variant = tee["variants"]["nodes"][0]["id"]
    gone = await update(simulator, "gid://shopify/Product/999", [{"id": variant, "price": "1.00"}])
    assert [error["code"] for error in gone["userErrors"]] == ["PRODUCT_DOES_NOT_EXIST"]
    assert gone["product"] is None
    unknown = await update(
        simulator, tee["id"], [{"id": "gid://shopify/ProductVariant/999", "price": "1.00"}]
    )
    assert [error["code"] for error in unknown["userErrors"]] == ["PRODUCT_VARIANT_DOES_NOT_EXIST"]
    stock = [{"locationId": "gid://shopify/Location/1", "availableQuantity": 3}]
    refused = await update(simulator, tee["id"], [{"id": variant, "inventoryQuantities": stock}])
    assert [error["code"] for error in refused["userErrors"]] == [
        "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE"
    ]
    negative = await update(simulator, tee["id"], [{"id": variant, "price": "-1.00"}])
    assert [error["code"] for error in negative["userErrors"]] == ["GREATER_THAN_OR_EQUAL_TO"]
    missing = await update(simulator, tee["id"], [{"price": "1.00"}])
    assert [error["code"] for error in missing["userErrors"]] == ["PRODUCT_VARIANT_ID_MISSING"]
    assert await prices(simulator, tee["id"]) == {"A": "19.90"}
