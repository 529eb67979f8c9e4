"""The products the mapping stage emits, frozen, each with a content hash for change detection.

The hash is xxh3_128 over a canonical orjson encoding of every field that is written to Shopify,
written by `product_encodings` alone, for one product or a batch's columns:
the same product gives the same hash in every process and run, any synced change gives another.
Tags and metafields are sorted (Shopify keeps no order for them), so their feed order never
matters; variant and image order do matter (positions, featured image). Row numbers are not hashed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
import xxhash

from erpsync.constants import HASH_VERSION  # bump it when the encoding below changes

__all__ = ["HASH_VERSION"]


class MetafieldDraft(NamedTuple):
    """One metafield value, already checked against its type."""

    namespace: str
    key: str
    type: str
    value: str


class VariantDraft(NamedTuple):
    """One variant as it will be sent; `row` (last, never hashed) is where it came from in the feed.

    A NamedTuple rather than a frozen dataclass: one is built per feed row, and a frozen dataclass
    costs ~3 µs to build where a tuple costs a fraction of that. It is just as immutable.
    """

    sku: str
    price: str | None
    compare_at_price: str | None
    barcode: str | None
    inventory_quantity: int | None
    weight: str | None
    weight_unit: str | None
    option_values: tuple[str, ...]
    taxable: bool | None
    image: str | None
    metafields: tuple[MetafieldDraft, ...]
    row: int


@dataclass(frozen=True, slots=True)
class ProductDraft:
    """One product as it will be sent: fields from its first row, variants in feed order."""

    key: str
    title: str
    description: str | None
    vendor: str | None
    product_type: str | None
    status: str | None
    handle: str | None
    seo_title: str | None
    seo_description: str | None
    tags: tuple[str, ...]
    images: tuple[str, ...]
    options: tuple[str, ...]
    variants: tuple[VariantDraft, ...]
    metafields: tuple[MetafieldDraft, ...]
    content_hash: str = field(init=False)

    def __init__(  # noqa: PLR0917 - the dataclass's own signature: positional construction stays valid
        self,
        key: str,
        title: str,
        description: str | None,
        vendor: str | None,
        product_type: str | None,
        status: str | None,
        handle: str | None,
        seo_title: str | None,
        seo_description: str | None,
        tags: tuple[str, ...],
        images: tuple[str, ...],
        options: tuple[str, ...],
        variants: tuple[VariantDraft, ...],
        metafields: tuple[MetafieldDraft, ...],
    ) -> None:
        # Written out rather than generated: the frozen dataclass __init__ sets each field through a
        # Python-level object.__setattr__ call (~0.5 µs a field on the 2-core box, one product per
        # five feed rows); one C-level map over the slots does the same in a fraction of that.
        values = (key, title, description, vendor, product_type, status, handle, seo_title, seo_description,
                  tags, images, options, variants, metafields)  # fmt: skip
        deque(map(_set_field, repeat(self), _PRODUCT_FIELDS, values), maxlen=0)
        _set_field(self, "content_hash", product_hash(self))


_VARIANT_METAFIELDS = itemgetter(VariantDraft._fields.index("metafields"))
# Bypasses the frozen dataclass's __setattr__, as its generated __init__ does.
_set_field = object.__setattr__
_PRODUCT_FIELDS = tuple(item.name for item in fields(ProductDraft) if item.init)
_new_object = object.__new__
_SETTERS = tuple(ProductDraft.__dict__[name].__set__ for name in _PRODUCT_FIELDS)
_SET_HASH = ProductDraft.__dict__["content_hash"].__set__
# orjson hands every tuple subclass (the NamedTuples here) to `default`, which makes it a plain tuple
# in C: a variant without its last field, `row`, and a metafield whole, being shorter than that slice.
# Cheaper than a slice and a list per product before the call.
_PLAIN = itemgetter(slice(0, len(VariantDraft._fields) - 1))
_dumps = partial(orjson.dumps, default=_PLAIN)


def product_hash(product: ProductDraft) -> str:
    """The content hash of a product: 32 hex digits, stable across processes."""
    return xxhash.xxh3_128_hexdigest(product_encoding(product))


def product_encoding(product: ProductDraft) -> bytes:
    """The canonical bytes a product's hash is taken of (`product_encodings` for one product)."""
    return next(product_encodings([[getattr(product, name)] for name in _PRODUCT_FIELDS]))


def product_encodings(columns: Sequence[Sequence[Any]]) -> Iterator[bytes]:
    """The bytes each product's hash is taken of, from its fields a column each; the one encoding.

    `[HASH_VERSION, key, ..., seo_description, sorted(set(tags)), images, options, variants,
    sorted(metafields)]` as orjson writes it, each variant without `row` and its metafields sorted.
    """
    (key, title, description, vendor, product_type, status, handle, seo_title, seo_description, tags, images,
     options, variants, metafields) = columns  # fmt: skip
    if any(map(_VARIANT_METAFIELDS, chain.from_iterable(variants))):
        variants = list(map(_variants_with_metafields, variants))
    encodings = zip(
        repeat(HASH_VERSION), key, title, description, vendor, product_type, status, handle, seo_title,
        seo_description, map(sorted, map(set, tags)), images, options, variants,
        map(sorted, metafields),
    )  # fmt: skip
    return map(_dumps, encodings)


def _variants_with_metafields(variants: tuple[VariantDraft, ...]) -> list[tuple[object, ...]]:
    """A product's variants as plain tuples without `row`, their metafields sorted plain tuples."""
    return [(*variant[:-2], sorted(map(tuple, variant.metafields))) for variant in variants]


def product_drafts(columns: Sequence[Sequence[Any]]) -> list[ProductDraft]:
    """`ProductDraft(*fields)` for each row of `columns` (one sequence per field, in field order).

    For the mapping's batch path: the drafts are filled and hashed a column at a time by C-level
    maps, where one `__init__` and `product_hash` call per product was most of its per-product cost.
    """
    products: list[ProductDraft] = list(map(_new_object, repeat(ProductDraft, len(columns[0]))))
    # The slots' own setters: no attribute lookup per value, half the cost of object.__setattr__.
    for setter, column in zip(_SETTERS, columns, strict=True):
        deque(map(setter, products, column), maxlen=0)
    deque(map(_SET_HASH, products, map(xxhash.xxh3_128_hexdigest, product_encodings(columns))), maxlen=0)
    return products


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was rejected; `row` as the merchant counts it (see feeds.records)."""

    row: int
    sku: str | None
    field: str
    message: str
    # The line of the feed file the record starts on, where the format has lines and it is known.
    line: int | None = None
    # The product key of the row, where it had one: every rejected product is named by key and SKU.
    key: str | None = None


@dataclass(frozen=True, slots=True)
class MapOutcome:
    """The counts of a mapped feed, the errors kept, and what the engine must leave alone."""

    rows: int
    mapped_rows: int
    rejected_rows: int
    products: int
    variants: int
    errors: tuple[RowError, ...]
    errors_not_kept: int
    rejected_keys: frozenset[str]
    rejected_skus: frozenset[str]
    # Mapped source paths that no record of the feed had: a typo in the mapping, or the wrong feed.
    missing_paths: tuple[str, ...] = ()
