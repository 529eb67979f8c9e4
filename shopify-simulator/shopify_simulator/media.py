"""Product media as ``productSet``'s ``files`` leaves it: uploads become new media, a given id is kept.

``files`` replaces the product's media list like every list input of productSet: an entry with an ``id``
keeps that media untouched, one with only an ``originalSource`` is a fresh upload (new media, a new ID),
and media left out of the list is removed. So a client that sends an unchanged image by URL every time
makes the shop download, store and replace it on every sync; ``/_simulator/stats`` ``media`` counts it.
The choices Shopify leaves open are ``SimulatorOptions`` fields (see options.py).
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopify_simulator.connections import View, connection
from shopify_simulator.context import ResolveInfo
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.product_rules import UserErrorBody, user_error
from shopify_simulator.state import Product, ShopState, format_datetime, parse_datetime, utc_now
from shopify_simulator.stats import Stats


@dataclass
class Media:
    """A product's image, made from the ``originalSource`` URL of one upload."""

    id: str
    source_url: str
    alt: str | None
    created_at: datetime.datetime


def load_media(raw: dict[str, Any]) -> Media:
    """A media item as ``save_state`` wrote it."""
    return Media(**{**raw, "created_at": parse_datetime(raw["created_at"])})


def check_files(
    product_input: Mapping[str, Any], existing: Product | None, options: SimulatorOptions
) -> list[UserErrorBody]:
    """Refuse, before anything changes, a file that names media the product does not hold or names none."""
    known = {media.id for media in existing.media} if existing else set()
    errors: list[UserErrorBody] = []
    entries: list[tuple[list[str | int], Mapping[str, Any]]] = [
        (["input", "files", index], entry) for index, entry in enumerate(product_input.get("files") or [])
    ]
    for index, variant in enumerate(product_input.get("variants") or []):
        if variant.get("file") is not None:
            entries.append((["input", "variants", index, "file"], variant["file"]))
    for path, entry in entries:
        if entry.get("id") is not None and entry["id"] not in known:
            message = f"Media {entry['id']} does not exist on this product."
            errors.append(user_error([*path, "id"], message, options.unknown_media_error_code))
        elif entry.get("id") is None and not entry.get("originalSource"):
            errors.append(user_error(path, "A file needs an id or an originalSource.", "INVALID_INPUT"))
    return errors


def apply_files(
    state: ShopState,
    product: Product,
    product_input: Mapping[str, Any],
    options: SimulatorOptions,
    stats: Stats | None,
) -> None:
    """Set the product's media from ``files`` (when given), then link or add each variant's ``file``."""
    now = utc_now()
    created = deleted = 0
    if product_input.get("files") is not None:
        by_id = {media.id: media for media in product.media}
        kept: list[Media] = []
        for entry in product_input["files"]:
            if entry.get("id") is not None:
                kept.append(by_id[entry["id"]])
                continue
            kept.append(Media(state.new_id("MediaImage"), entry["originalSource"], entry.get("alt"), now))
            created += 1
        kept_ids = {media.id for media in kept}
        deleted = sum(1 for media in product.media if media.id not in kept_ids)
        product.media = kept
    for variant in product_input.get("variants") or []:
        entry = variant.get("file")
        if entry is None or entry.get("id") is not None:
            continue
        source = entry["originalSource"]
        if options.variant_file_matching == "url" and any(m.source_url == source for m in product.media):
            continue
        product.media.append(Media(state.new_id("MediaImage"), source, entry.get("alt"), now))
        created += 1
    if stats is not None:
        stats.media_created += created
        stats.media_deleted += deleted


def media_view(media: Media) -> View:
    """A MediaImage; the image is ready at once (Shopify processes uploads asynchronously)."""
    return {
        "__typename": "MediaImage",
        "id": media.id,
        "alt": media.alt,
        "mediaContentType": "IMAGE",
        "status": "READY",
        "fileStatus": "READY",
        "createdAt": format_datetime(media.created_at),
        "updatedAt": format_datetime(media.created_at),
        "mediaErrors": [],
        "mediaWarnings": [],
        "originalSource": {
            "__typename": "MediaImageOriginalSource",
            "url": media.source_url,
            "fileSize": None,
        },
        "image": {"__typename": "Image", "url": media.source_url, "altText": media.alt},
    }


def product_media_fields(product: Product) -> View:
    """``Product.media`` and ``Product.mediaCount``, for ``views.product_view``."""

    def media(info: ResolveInfo, **arguments: Any) -> View:
        return connection(info, product.media, media_view, lambda item: item.id, arguments)

    return {"media": media, "mediaCount": {"count": len(product.media), "precision": "EXACT"}}
