"""Pure: what differs between a product as erpsync last wrote it and as the shop holds it now.

Only fields erpsync sent are compared (a field the config does not map is the merchant's), in the shop's
own terms: money as a decimal (`10` is `10.00`), tags as a set, an absent barcode as an empty one.
Stock is never compared (sales move it), nor media, metafields or weights. The handle is compared only
where the config maps it: otherwise an update keeps whatever handle the shop gave the product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# productSet input field -> the Product field it is read back as.
PRODUCT_FIELDS = {
    "title": "title",
    "status": "status",
    "vendor": "vendor",
    "productType": "productType",
    "descriptionHtml": "descriptionHtml",
    "tags": "tags",
}
VARIANT_FIELDS = ("price", "compareAtPrice", "barcode", "taxable")
MONEY = frozenset({"price", "compareAtPrice"})


@dataclass(frozen=True, slots=True)
class ShopEdit:
    """One field that is not what erpsync wrote: `field` is named as the journal names it."""

    field: str
    written: Any
    shop: Any

    def describe(self) -> str:
        return f"{self.field}: {self.written!r} written, {self.shop!r} in the shop"


def shop_edits(
    written: Mapping[str, Any],
    fields: Mapping[str, Any],
    variants: Sequence[Mapping[str, Any]],
    *,
    compare_handle: bool = False,
) -> list[ShopEdit]:
    """The fields of `written` (a productSet input) the shop's product (`fields`, `variants`) differs in."""
    edits: list[ShopEdit] = []
    names = dict(PRODUCT_FIELDS, handle="handle") if compare_handle else PRODUCT_FIELDS
    for name, shop_name in names.items():
        if name in written and not _same(name, written[name], fields.get(shop_name)):
            edits.append(ShopEdit(name, written[name], fields.get(shop_name)))
    mine = {str(variant.get("sku")): variant for variant in written.get("variants") or []}
    theirs = {str(variant.get("sku") or ""): variant for variant in variants}
    if sorted(mine) != sorted(theirs):
        edits.append(ShopEdit("variants", sorted(mine), sorted(theirs)))
    for sku in sorted(set(mine) & set(theirs)):
        sent, held = mine[sku], theirs[sku]
        for name in VARIANT_FIELDS:
            if name in sent and not _same(name, sent[name], held.get(name)):
                edits.append(ShopEdit(f"variants[{sku}].{name}", sent[name], held.get(name)))
        options = [(value.get("optionName"), value.get("name")) for value in sent.get("optionValues") or []]
        shop_options = [
            (value.get("name"), value.get("value")) for value in held.get("selectedOptions") or []
        ]
        if options and options != shop_options:
            edits.append(ShopEdit(f"variants[{sku}].optionValues", options, shop_options))
    return edits


def _same(name: str, written: Any, shop: Any) -> bool:
    if name in MONEY:
        return _money(written) == _money(shop)
    if name == "tags":
        return sorted(set(written or [])) == sorted(set(shop or []))
    if name == "barcode":
        return (written or "") == (shop or "")
    if name == "status":
        return str(written or "").upper() == str(shop or "").upper()
    return bool(written == shop)


def _money(value: Any) -> Decimal | str | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)
