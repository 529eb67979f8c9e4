"""Drift, field by field: what the shop holds now of a product erpsync owns, against what erpsync last wrote.

Pure. Both sides are productSet inputs: the last-written state (`product_states.written`) and the shop's
product read back into the same shape (`erpsync.shopify.drift_reads`). Only fields the written state holds
are compared, and of those only the ones the config maps: the title, handle and status are in every
input (Shopify needs them), so they count only when mapped. Stock (sales move it) and media are never
compared. Variants are matched by SKU; a variant only the shop has was added by hand, one only erpsync
wrote was removed by hand.

A field's place is a path of steps: a key (`price`), or a list entry named by its identity
(`("variants", "TEE-S")` by SKU, `("metafields", "custom.care")` by namespace and key). Its display form
is the journal's (`variants[TEE-S].price`).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Step = str | tuple[str, str]
Path = tuple[Step, ...]

VARIANT = "(variant)"  # the value of a variant's own path: it is there
PRODUCT = "(product)"  # the field of a product deleted in the shop
# Product fields in every productSet input, compared only when the config maps them.
ALWAYS_SENT = {"title": "title", "handle": "handle", "status": "status"}
PRODUCT_FIELDS = ("descriptionHtml", "vendor", "productType", "tags", "productOptions")
VARIANT_FIELDS = ("price", "compareAtPrice", "barcode", "taxable", "inventoryPolicy", "optionValues")
MONEY = frozenset({"price", "compareAtPrice"})
OWNER_METAFIELD = "$app.erpsync_id"
# Options and a variant's option values travel with the variants: a productSet line with the shop's options
# and the feed's variants would not be valid, so these are never kept, only written back or reported.
STRUCTURAL = frozenset({"productOptions", "optionValues"})


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One field whose value in the shop is not the one erpsync wrote (ours -> the shop's)."""

    field: str
    path: Path
    ours: Any
    theirs: Any


def keepable(path: Path) -> bool:
    """A field `keep` may hold at the shop's value: a plain field, not the variants' structure."""
    last = path[-1]
    if isinstance(last, tuple):
        return last[0] == "metafields"  # a metafield's value, not a variant's presence
    return last not in STRUCTURAL


def display(path: Path) -> str:
    """`variants[TEE-S].price`, `metafields[custom.care]`, `seo.title`."""
    text = ""
    for step in path:
        if isinstance(step, tuple):
            text += f"{'.' if text else ''}{step[0]}[{step[1]}]"
        else:
            text += f"{'.' if text else ''}{step}"
    return text


def path_from_json(raw: Sequence[Any]) -> Path:
    """A path as stored in PostgreSQL (JSON: a list step is a two-item list)."""
    return tuple((str(step[0]), str(step[1])) if isinstance(step, list) else str(step) for step in raw)


def _identity(list_name: str, entry: Mapping[str, Any]) -> str:
    if list_name == "metafields":
        return f"{entry.get('namespace')}.{entry.get('key')}"
    return str(entry.get("sku"))


def _entries(document: Mapping[str, Any], list_name: str) -> list[dict[str, Any]]:
    value = document.get(list_name)
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def fields_of(document: Mapping[str, Any], mapped: Collection[str]) -> Iterator[Path]:
    """The compared paths an input holds (`mapped`: the config's mapped and ruled targets)."""
    for key, target in ALWAYS_SENT.items():
        if key in document and target in mapped:
            yield (key,)
    for key in PRODUCT_FIELDS:
        if key in document:
            yield (key,)
    for key in ("title", "description"):
        if isinstance(document.get("seo"), dict) and key in document["seo"]:
            yield ("seo", key)
    for entry in _entries(document, "metafields"):
        if _identity("metafields", entry) != OWNER_METAFIELD:
            yield (("metafields", _identity("metafields", entry)),)
    for variant in _entries(document, "variants"):
        yield from _variant_fields(variant)


def _variant_fields(variant: Mapping[str, Any]) -> Iterator[Path]:
    step = ("variants", _identity("variants", variant))
    yield (step,)
    for key in VARIANT_FIELDS:
        if key in variant:
            yield (step, key)
    measurement = (variant.get("inventoryItem") or {}).get("measurement") or {}
    if "weight" in measurement:
        yield (step, "inventoryItem", "measurement", "weight")
    for entry in _entries(variant, "metafields"):
        yield (step, ("metafields", _identity("metafields", entry)))


def get_path(document: Mapping[str, Any] | None, path: Path) -> Any:
    """The value at `path`; a variant's own path gives VARIANT when it is there, a metafield its value."""
    current: Any = document
    for index, step in enumerate(path):
        if not isinstance(current, Mapping):
            return None
        if isinstance(step, tuple):
            found = next((e for e in _entries(current, step[0]) if _identity(step[0], e) == step[1]), None)
            if found is None:
                return None
            last = index == len(path) - 1
            if last:
                return found.get("value") if step[0] == "metafields" else VARIANT
            current = found
        else:
            current = current.get(step)
    return current


def set_path(document: dict[str, Any], path: Path, value: Any, *, entry: Any = None) -> None:
    """Write `value` at `path` in place. A list entry's own path: None removes it, else `entry` (the
    shop's variant, or metafield) is added when missing; a metafield path sets the entry's value."""
    current: Any = document
    for index, step in enumerate(path):
        last = index == len(path) - 1
        if isinstance(step, tuple):
            items = current.setdefault(step[0], [])
            found = next((e for e in items if isinstance(e, dict) and _identity(step[0], e) == step[1]), None)
            if not last:
                if found is None:
                    return
                current = found
                continue
            if value is None:
                current[step[0]] = [e for e in items if e is not found]
            elif found is None and entry is not None:
                items.append(copy.deepcopy(entry))
            elif found is not None and step[0] == "metafields":
                found["value"] = value
            return
        if last:
            current[step] = value
            return
        if not isinstance(current.get(step), dict):
            current[step] = {}
        current = current[step]


def same(path: Path, ours: Any, theirs: Any) -> bool:
    """Equal as Shopify means it: money by amount, tags as a set, weights by value and unit, no value
    and an empty text alike."""
    last = path[-1] if path else ""
    if last in MONEY:
        return _money(ours) == _money(theirs)
    if last == "tags":
        return sorted(str(tag).strip() for tag in ours or []) == sorted(
            str(tag).strip() for tag in theirs or []
        )
    if last == "weight":
        return _weight(ours) == _weight(theirs)
    if last == "optionValues":
        return _pairs(ours, "optionName", "name") == _pairs(theirs, "optionName", "name")
    if last == "productOptions":
        return _options(ours) == _options(theirs)
    if ours in (None, "") and theirs in (None, ""):
        return True
    return bool(ours == theirs)


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _weight(value: Any) -> tuple[float, str] | None:
    if not isinstance(value, Mapping) or value.get("value") is None:
        return None
    return round(float(value["value"]), 6), str(value.get("unit") or "KILOGRAMS")


def _pairs(items: Any, first: str, second: str) -> list[tuple[str, str]]:
    return [
        (str(item.get(first)), str(item.get(second))) for item in items or [] if isinstance(item, Mapping)
    ]


def _options(items: Any) -> list[tuple[str, list[str]]]:
    return [
        (str(option.get("name")), [str(value.get("name")) for value in option.get("values") or []])
        for option in items or []
        if isinstance(option, Mapping)
    ]


def find_drift(
    written: Mapping[str, Any], shop: Mapping[str, Any], mapped: Collection[str]
) -> list[FieldDrift]:
    """Every compared field of `written` whose value the shop does not hold, and each variant only the
    shop has (added by hand). A variant removed in the shop is one drift, not one per field."""
    found: list[FieldDrift] = []
    gone: set[Step] = set()
    for path in fields_of(written, mapped):
        if path[0] in gone:
            continue
        ours, theirs = get_path(written, path), get_path(shop, path)
        if len(path) == 1 and isinstance(path[0], tuple) and path[0][0] == "variants" and theirs is None:
            gone.add(path[0])
        if not same(path, ours, theirs):
            found.append(FieldDrift(display(path), path, ours, theirs))
    ours_skus = {_identity("variants", v) for v in _entries(written, "variants")}
    for variant in _entries(shop, "variants"):
        sku = _identity("variants", variant)
        if sku not in ours_skus:
            path = (("variants", sku),)
            found.append(FieldDrift(display(path), path, None, VARIANT))
    return found


def with_theirs(
    written: Mapping[str, Any], shop: Mapping[str, Any], drifts: Sequence[FieldDrift]
) -> dict[str, Any]:
    """The written state as the shop holds it after these drifts: the plan then compares the feed with
    what is really there, and writes back only that (a price: a variant update of that price)."""
    result = copy.deepcopy(dict(written))
    for drift in drifts:
        entry = None
        if isinstance(drift.path[-1], tuple) and drift.theirs is not None:
            entry = next(
                (e for e in _entries(shop, "variants") if _identity("variants", e) == drift.path[-1][1]), None
            )
        set_path(result, drift.path, copy.deepcopy(drift.theirs), entry=entry)
    return result


def keep_theirs(product_input: dict[str, Any], path: Path, ours: Any, theirs: Any) -> bool:
    """`keep`: the shop's value goes into the input in place of the feed's while the feed still says what
    erpsync wrote before the merchant's edit; False when the feed's value changed (it is written then)."""
    if not same(path, get_path(product_input, path), ours):
        return False
    set_path(product_input, path, copy.deepcopy(theirs))
    return True
