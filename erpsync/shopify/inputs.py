"""ProductDraft → the variables of one `productSet` or `productDelete` bulk line.

Only fields the config maps are sent: `productSet` overwrites what it is given (tags, list fields) and
leaves alone what it is not, so a merchant's hand-made edits to unmapped fields survive every sync.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import Any

from erpsync.mapping.drafts import MetafieldDraft, ProductDraft, VariantDraft
from erpsync.ownership import OWNER_KEY, OWNER_NAMESPACE, owner_identifier, owner_metafield

# A single-variant product lives under option "Title" / value "Default Title".
# https://shopify.dev/docs/api/usage/api-exploration/admin-cli-app-execute
DEFAULT_OPTION = "Title"
DEFAULT_VALUE = "Default Title"
MAX_HANDLE = 255


def slugify(text: str) -> str:
    """Shopify's handle rule: lowercase, runs of other characters become one '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def product_handle(draft: ProductDraft) -> str:
    """The feed's handle, else title + product key: unique per config, so a create can be retried by
    handle without ever landing on someone else's product, and readable in the storefront's URL."""
    if draft.handle:
        return slugify(draft.handle)[:MAX_HANDLE] or slugify(draft.key)
    title = slugify(draft.title)
    key = slugify(draft.key) or "product"
    if not title or title == key:
        return key[:MAX_HANDLE]
    return f"{title[: MAX_HANDLE - len(key) - 1]}-{key}"


def _metafields(items: tuple[MetafieldDraft, ...]) -> list[dict[str, str]]:
    return [{"namespace": m.namespace, "key": m.key, "type": m.type, "value": m.value} for m in items]


def _variant(
    draft: ProductDraft, variant: VariantDraft, *, mapped: Collection[str], location_id: str | None
) -> dict[str, Any]:
    names = draft.options or (DEFAULT_OPTION,)
    values = variant.option_values or (DEFAULT_VALUE,)
    line: dict[str, Any] = {
        "optionValues": [
            {"optionName": name, "name": value} for name, value in zip(names, values, strict=False)
        ],
        "sku": variant.sku,
    }
    if variant.price is not None:
        line["price"] = variant.price
    if "variant.compare_at_price" in mapped:
        line["compareAtPrice"] = variant.compare_at_price
    if variant.barcode is not None:
        line["barcode"] = variant.barcode
    if variant.taxable is not None:
        line["taxable"] = variant.taxable
    inventory_item: dict[str, Any] = {"sku": variant.sku, "tracked": True}
    if variant.weight is not None:
        unit = variant.weight_unit or "KILOGRAMS"
        inventory_item["measurement"] = {"weight": {"value": float(variant.weight), "unit": unit}}
    line["inventoryItem"] = inventory_item
    if variant.inventory_quantity is not None and location_id:
        line["inventoryQuantities"] = [
            {"locationId": location_id, "name": "available", "quantity": variant.inventory_quantity}
        ]
    if variant.metafields:
        line["metafields"] = _metafields(variant.metafields)
    if variant.image:
        line["file"] = {"originalSource": variant.image, "contentType": "IMAGE"}
    return line


def product_set_input(
    draft: ProductDraft, *, mapped: Collection[str], location_id: str | None, status_default: str = "ACTIVE"
) -> dict[str, Any]:
    """The `input` of a productSet line (no ids: those are added when the line is published)."""
    data: dict[str, Any] = {
        "title": draft.title,
        "handle": product_handle(draft),
        "status": draft.status or status_default,  # status on create is unconfirmed: always send it
    }
    if "description" in mapped:
        data["descriptionHtml"] = draft.description or ""
    if "vendor" in mapped and draft.vendor is not None:
        data["vendor"] = draft.vendor
    if "product_type" in mapped:
        data["productType"] = draft.product_type or ""
    if "tags" in mapped:
        data["tags"] = sorted(set(draft.tags))
    if draft.seo_title is not None or draft.seo_description is not None:
        data["seo"] = {"title": draft.seo_title, "description": draft.seo_description}
    if "images" in mapped:
        # `files` becomes the product's whole media list: a variant's image is in it too, or the next write
        # would remove the media that image made. https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
        urls = list(dict.fromkeys([*draft.images, *(v.image for v in draft.variants if v.image)]))
        data["files"] = [{"originalSource": url, "contentType": "IMAGE"} for url in urls]
    names = draft.options or (DEFAULT_OPTION,)
    option_values: list[list[str]] = [[] for _ in names]
    for variant in draft.variants:
        for index, value in enumerate(variant.option_values or (DEFAULT_VALUE,)):
            if index < len(option_values) and value not in option_values[index]:
                option_values[index].append(value)
    data["productOptions"] = [
        {"name": name, "values": [{"name": value} for value in values]}
        for name, values in zip(names, option_values, strict=True)
    ]
    data["variants"] = [_variant(draft, v, mapped=mapped, location_id=location_id) for v in draft.variants]
    if draft.metafields:
        data["metafields"] = _metafields(draft.metafields)
    return data


def with_ids(
    product_input: dict[str, Any],
    *,
    product_id: str | None,
    variant_ids: dict[str, str],
    owner_id: str,
    unstocked: Collection[str] = (),
    media: dict[str, str] | None = None,
    safety_stock: int = 0,
) -> dict[str, Any]:
    """The bulk line's variables: update by product id, else create idempotently by erpsync's custom ID.

    A create never goes by handle: a handle upsert lands on whatever product holds it, a merchant's
    included. The custom ID's metafield must be in `input.metafields` (METAFIELD_MISMATCH otherwise), and
    since a given metafields list replaces the product's, it rides along whenever a list is sent.
    Known variants carry their id, since a variant sent without one is created anew and the old
    one deleted. https://shopify.dev/changelog/productset-and-customerset-mutations-now-support-upserts
    Known images likewise go by media id (`media`: source URL -> id), never as a fresh upload.
    A new variant takes its first stock here, less `safety_stock`: nothing of it can have sold yet. A known
    one's stock is left out: productSet sets it blindly, over any sale made since the feed was read, so
    it goes by compare-and-set afterwards (erpsync/stock.py).
    """
    variants = []
    for variant in product_input.get("variants", []):
        sku = variant.get("sku")
        line = {**variant, "id": variant_ids[sku]} if sku in variant_ids else dict(variant)
        if sku in variant_ids or sku in unstocked:
            # Unstocked: Shopify refuses quantities where an existing variant is not stocked (productSet schema).
            line.pop("inventoryQuantities", None)
        elif safety_stock and line.get("inventoryQuantities"):
            line["inventoryQuantities"] = [
                {**entry, "quantity": max(0, int(entry["quantity"]) - safety_stock)}
                for entry in line["inventoryQuantities"]
            ]
        variants.append(line)
    body = {**product_input, "variants": variants}
    if media:
        body = with_media(body, media)
    if product_id is None or "metafields" in body:
        mine = owner_metafield(owner_id)
        others = [entry for entry in body.get("metafields", []) if not _is_owner(entry)]
        body["metafields"] = [*others, mine]
    if product_id:
        return {"identifier": {"id": product_id}, "input": body}
    return {"identifier": owner_identifier(owner_id), "input": body}


def with_media(body: dict[str, Any], media: dict[str, str]) -> dict[str, Any]:
    """The productSet input with every image Shopify already holds sent by its media id."""
    if "files" in body:
        body["files"] = [_by_id(entry, media) for entry in body["files"]]
    if any("file" in variant for variant in body.get("variants", [])):
        body["variants"] = [
            {**variant, "file": _by_id(variant["file"], media)} if "file" in variant else variant
            for variant in body["variants"]
        ]
    return body


def _by_id(entry: dict[str, Any], media: dict[str, str]) -> dict[str, Any]:
    media_id = media.get(str(entry.get("originalSource")))
    return {"id": media_id} if media_id else entry


def _is_owner(entry: dict[str, Any]) -> bool:
    return bool(entry.get("namespace") == OWNER_NAMESPACE and entry.get("key") == OWNER_KEY)


def variants_line(product_id: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """A `productVariantsBulkUpdate` line: the changed fields of the changed variants, each by id (the
    document itself says `allowPartialUpdates: false`, so that no line carries it)."""
    return {"productId": product_id, "variants": variants}


def status_line(product_id: str, status: str) -> dict[str, Any]:
    """Archive or draft a product that left the feed (the delete policies `archive` and `draft`)."""
    return {"identifier": {"id": product_id}, "input": {"status": status}}


def delete_line(product_id: str) -> dict[str, Any]:
    return {"input": {"id": product_id}}
