"""The stock modes' rules, as a table, and which variants take their stock in productSet."""

from __future__ import annotations

import pytest

from erpsync.shopify.inputs import with_ids
from erpsync.stock_rules import StockFacts, StockMode, wanted_quantity

# mode, safety, erp, erp_previous, last_known (what erpsync last wrote), shop_now, wanted, why
RULES: list[tuple[StockMode, int, int, int | None, int | None, int, int, str]] = [
    ("absolute", 0, 10, 10, 10, 10, 10, "nothing moved"),
    ("absolute", 0, 12, 10, 10, 10, 12, "the ERP received 2"),
    ("absolute", 0, 10, 10, 10, 7, 7, "3 sold, the ERP has not imported them: not re-listed"),
    ("absolute", 0, 7, 10, 10, 7, 7, "3 sold, the ERP imported them"),
    ("absolute", 0, 15, 10, 10, 7, 12, "3 sold, not imported, 5 received"),
    ("absolute", 0, 4, 10, 10, 7, 4, "the ERP went down by more than the shop sold"),
    ("absolute", 0, 9, 10, 10, 7, 7, "the ERP imported 1 of the 3 sold"),
    ("absolute", 0, 10, 10, 10, 14, 10, "a hand count in the shop: the ERP is the truth"),
    ("absolute", 0, 10, None, None, 3, 10, "first sight: the ERP's quantity"),
    ("absolute", 3, 10, None, None, 10, 7, "safety stock held back"),
    ("absolute", 3, 2, 10, 7, 7, 0, "never below 0"),
    ("absolute", 0, 3, 3, 10, 2, 0, "8 sold, the ERP still 3 and not imported: 0, not -5"),
    ("delta", 0, 8, 10, 10, 7, 5, "ERP 10 → 8 while the shop sold 3 of 10"),
    ("delta", 0, 13, 10, 10, 8, 11, "ERP received 3, the shop sold 2"),
    ("delta", 0, 10, 10, 10, 7, 7, "the ERP did not move: the shop's sales stand"),
    ("delta", 0, 10, None, None, 4, 10, "first sight: written as in absolute mode, once"),
    ("delta", 3, 12, 10, 7, 6, 8, "received 2, under the cap of 12 - 3"),
    ("delta", 3, 4, 12, 8, 8, 0, "lost 8, capped at 4 - 3 and never below 0"),
    ("delta", 0, 5, 10, 10, 10, 5, "a shop that never sold follows the ERP"),
    ("delta", 0, 20, 10, 10, 30, 20, "received in the shop by hand: never more than the ERP has"),
]


@pytest.mark.parametrize("row", RULES, ids=[row[-1] for row in RULES])
def test_wanted_quantity(row: tuple[StockMode, int, int, int | None, int | None, int, int, str]) -> None:
    """Each row is a situation a merchant meets; the shop is set to show `wanted`, never more."""
    mode, safety, erp, erp_previous, last_known, shop_now, wanted, why = row
    facts = StockFacts(erp=erp, erp_previous=erp_previous, last_known=last_known, shop_now=shop_now)
    assert wanted_quantity(mode, safety, facts) == wanted, why


def test_only_new_variants_take_their_stock_in_product_set() -> None:
    """productSet sets stock blindly: a known variant's quantity is left out of its line (the stock step
    writes it by compare-and-set); a new one takes the feed's, less the safety stock, never below 0."""
    quantity = [{"locationId": "gid://shopify/Location/1", "name": "available", "quantity": 2}]
    product_input = {
        "title": "Tee",
        "variants": [
            {"sku": "KNOWN", "inventoryQuantities": quantity},
            {"sku": "NEW", "inventoryQuantities": [{**quantity[0], "quantity": 10}]},
            {"sku": "LOW", "inventoryQuantities": quantity},
        ],
    }
    line = with_ids(
        product_input,
        product_id="gid://shopify/Product/1",
        variant_ids={"KNOWN": "gid://shopify/ProductVariant/1"},
        owner_id="erpsync-x",
        safety_stock=3,
    )
    known, new, low = line["input"]["variants"]
    assert "inventoryQuantities" not in known
    assert new["inventoryQuantities"][0]["quantity"] == 7
    assert low["inventoryQuantities"][0]["quantity"] == 0
    assert product_input["variants"][1]["inventoryQuantities"][0]["quantity"] == 10  # the input is kept
