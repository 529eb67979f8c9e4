"""What counts as edited in the shop (`erpsync.shop_compare`): a revert leaves such a product alone, so a
difference that is only the shop's way of writing a value must not count, and a real edit must."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.shop_compare import shop_edits

WRITTEN: dict[str, Any] = {
    "title": "Tee",
    "handle": "tee-a",
    "status": "ACTIVE",
    "tags": ["b", "a"],
    "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
    "variants": [
        {"sku": "A-S", "price": "10.00", "compareAtPrice": None, "barcode": None,
         "optionValues": [{"optionName": "Size", "name": "S"}], "inventoryQuantities": [{"quantity": 5}]},
    ],
}  # fmt: skip
SHOP_FIELDS: dict[str, Any] = {"title": "Tee", "handle": "tee-a-1", "status": "ACTIVE", "tags": ["a", "b"]}
SHOP_VARIANT: dict[str, Any] = {
    "sku": "A-S",
    "price": "10.0",
    "compareAtPrice": None,
    "barcode": "",
    "selectedOptions": [{"name": "Size", "value": "S"}],
}


@pytest.mark.parametrize(
    ("fields", "variant", "edited"),
    [
        ({}, {}, []),  # money written another way, tags in another order, no barcode as ""
        ({"title": "Summer tee"}, {}, ["title"]),
        ({"status": "DRAFT"}, {}, ["status"]),
        ({"tags": ["a"]}, {}, ["tags"]),
        ({}, {"price": "12.50"}, ["variants[A-S].price"]),
        ({}, {"compareAtPrice": "15.00"}, ["variants[A-S].compareAtPrice"]),
        ({}, {"barcode": "123"}, ["variants[A-S].barcode"]),
        ({}, {"selectedOptions": [{"name": "Size", "value": "M"}]}, ["variants[A-S].optionValues"]),
        ({}, {"sku": "A-X"}, ["variants"]),
        ({"vendor": "Other"}, {}, []),  # not written by erpsync: the merchant's
    ],
)
def test_what_counts_as_an_edit(fields: dict[str, Any], variant: dict[str, Any], edited: list[str]) -> None:
    """Only fields erpsync wrote count, each in the shop's own terms; stock is never compared."""
    found = shop_edits(WRITTEN, {**SHOP_FIELDS, **fields}, [{**SHOP_VARIANT, **variant}])
    assert [edit.field for edit in found] == edited


def test_the_handle_counts_only_where_the_config_maps_it() -> None:
    """Shopify may give a product another handle than the one sent (one taken): not an edit, unless the
    feed owns the handle."""
    assert shop_edits(WRITTEN, SHOP_FIELDS, [SHOP_VARIANT]) == []
    assert [edit.field for edit in shop_edits(WRITTEN, SHOP_FIELDS, [SHOP_VARIANT], compare_handle=True)] == [
        "handle"
    ]


def test_a_variant_added_by_hand_is_an_edit() -> None:
    edits = shop_edits(WRITTEN, SHOP_FIELDS, [SHOP_VARIANT, {**SHOP_VARIANT, "sku": "A-M"}])
    assert [edit.describe() for edit in edits] == ["variants: ['A-S'] written, ['A-M', 'A-S'] in the shop"]
