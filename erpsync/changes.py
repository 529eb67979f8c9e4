"""What changed in a product since erpsync last wrote it, field by field, and the lightest write for it.

The content hash says *that* a product changed; for those products the plan compares the productSet input
last written (`product_states.written`) with the run's input. The differences, before -> after, are shown
by dry runs, and decide the mutation: `productSet` is the heaviest Shopify has (every variant, metafield,
image and stock level of the product), so a change that only touches fields of existing variants goes
out as `productVariantsBulkUpdate` with just those fields, and stock alone through the inventory
mutations. Anything structural — variants or options added, removed or reordered, product fields,
media, metafields — or a product without a known last-written state stays a `productSet`.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productVariantsBulkUpdate
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Fields of a productSet variant that `ProductVariantsBulkInput` takes as they are (2026-10 schema).
VARIANT_FIELDS = frozenset(
    {"price", "compareAtPrice", "barcode", "taxable", "inventoryPolicy", "inventoryItem"}
)
# Fields of `inventoryItem` (`InventoryItemInput`) a variant update may change; the SKU is the variant's
# identity here (variants are matched by it), so a changed SKU is a structural change.
INVENTORY_ITEM_FIELDS = frozenset({"tracked", "measurement", "cost", "requiresShipping"})
STOCK_FIELDS = frozenset({"inventoryQuantities"})
NEVER_WRITTEN = {"field": "(all)", "before": None, "after": "(not written by erpsync before)"}


@dataclass(frozen=True, slots=True)
class FieldChanges:
    """The fields that differ, before -> after, and the write that expresses them."""

    changes: list[dict[str, Any]]
    kind: str  # 'set', 'variants', 'stock' or 'variants+stock'


def compare(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, lightest: bool = True
) -> FieldChanges:
    """The changes from the last-written input to this run's, and the lightest mutation for them.

    `lightest` False writes every change with productSet (as before field-level changes existed)."""
    if before is None:
        return FieldChanges([dict(NEVER_WRITTEN)], "set")
    changes = diff_inputs(before, after)
    kind = write_kind(before, after) if changes and lightest else "set"
    return FieldChanges(changes, kind)


def write_kind(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """'set' for anything structural; else which of variant fields and stock differ."""
    for key in set(before) | set(after):
        if key != "variants" and before.get(key) != after.get(key):
            return "set"
    old = _by_sku(before.get("variants"))
    new = _by_sku(after.get("variants"))
    if old is None or new is None or list(old) != list(new):
        return "set"  # a variant added, removed or moved (or a SKU twice)
    kinds: set[str] = set()
    for sku, variant in new.items():
        previous = old[sku]
        for key in set(previous) | set(variant):
            if previous.get(key) == variant.get(key):
                continue
            if key in STOCK_FIELDS:
                kinds.add("stock")
            elif key == "inventoryItem" and _item_structural(previous.get(key), variant.get(key)):
                return "set"
            elif key in VARIANT_FIELDS:
                kinds.add("variants")
            else:
                return "set"
    return "+".join(sorted(kinds, key=("variants", "stock").index)) or "set"


def variant_patches(
    before: Mapping[str, Any], after: Mapping[str, Any], variant_ids: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """`productVariantsBulkUpdate` variants: each changed variant by id with only its changed fields.

    None when a changed variant has no known id, or nothing is left to send: productSet writes it then."""
    old = _by_sku(before.get("variants")) or {}
    patches: list[dict[str, Any]] = []
    for variant in after.get("variants") or []:
        sku = str(variant.get("sku"))
        previous = old.get(sku, {})
        patch: dict[str, Any] = {}
        for key in sorted(VARIANT_FIELDS & set(variant)):
            if previous.get(key) == variant[key]:
                continue
            if key == "inventoryItem":
                item = {
                    name: value
                    for name, value in variant[key].items()
                    if name in INVENTORY_ITEM_FIELDS and (previous.get(key) or {}).get(name) != value
                }
                if item:
                    patch[key] = item
            else:
                patch[key] = variant[key]
        if not patch:
            continue
        if sku not in variant_ids:
            return None
        patches.append({"id": variant_ids[sku], **patch})
    return patches or None


def _item_structural(before: Any, after: Any) -> bool:
    """A change of the inventory item that a variant update does not express (its SKU)."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    return any(old.get(key) != new.get(key) for key in (set(old) | set(new)) - INVENTORY_ITEM_FIELDS)


def _by_sku(variants: Any) -> dict[str, dict[str, Any]] | None:
    if not isinstance(variants, list):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for variant in variants:
        if not isinstance(variant, dict) or str(variant.get("sku")) in found:
            return None
        found[str(variant.get("sku"))] = variant
    return found


def diff_inputs(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Field-level differences between two productSet inputs; variants are matched by SKU."""
    if before is None:
        return [{**NEVER_WRITTEN, "field": path or "(all)"}]
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else key
            if key == "variants" and isinstance(before.get(key), list) and isinstance(after.get(key), list):
                changes += _diff_variants(before[key], after[key], sub)
            elif before.get(key) != after.get(key):
                changes += (
                    diff_inputs(before.get(key), after.get(key), sub)
                    if isinstance(before.get(key), dict)
                    else [{"field": sub, "before": before.get(key), "after": after.get(key)}]
                )
        return changes
    return [] if before == after else [{"field": path, "before": before, "after": after}]


def _diff_variants(before: list[Any], after: list[Any], path: str) -> list[dict[str, Any]]:
    old = {str(item.get("sku")): item for item in before if isinstance(item, dict)}
    new = {str(item.get("sku")): item for item in after if isinstance(item, dict)}
    changes: list[dict[str, Any]] = []
    for sku in sorted(set(old) | set(new)):
        if sku not in old:
            changes.append({"field": f"{path}[{sku}]", "before": None, "after": "(new variant)"})
        elif sku not in new:
            changes.append({"field": f"{path}[{sku}]", "before": "(variant)", "after": None})
        else:
            changes += diff_inputs(old[sku], new[sku], f"{path}[{sku}]")
    if not changes and list(old) != list(new):
        changes.append({"field": f"{path}.order", "before": list(old), "after": list(new)})
    return changes


def without_handle(product_input: Mapping[str, Any]) -> dict[str, Any]:
    """Updates keep the product's current handle (and so its storefront URL) unless the feed maps one."""
    return {key: value for key, value in product_input.items() if key != "handle"}
