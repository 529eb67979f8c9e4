"""The products the mapping stage emits, frozen, each with a content hash for change detection.

The hash is xxh3_128 over a canonical orjson encoding of every field that is written to Shopify
(`encode_products` in erpsync/_speedups.c writes the same bytes a batch at a time):
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

from erpsync import speedups

# Bump when the encoding below changes, so every product is rewritten once rather than never.
HASH_VERSION = 1


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
_WITHOUT_ROW = itemgetter(slice(0, -1))
# Bypasses the frozen dataclass's __setattr__, as its generated __init__ does.
_set_field = object.__setattr__
_PRODUCT_FIELDS = tuple(item.name for item in fields(ProductDraft) if item.init)
_new_object = object.__new__
_SETTERS = tuple(ProductDraft.__dict__[name].__set__ for name in _PRODUCT_FIELDS)
_SET_HASH = ProductDraft.__dict__["content_hash"].__set__
_dumps_with_tuples = partial(orjson.dumps, default=tuple)


def _metafields(metafields: tuple[MetafieldDraft, ...]) -> list[tuple[str, ...]]:
    # Plain tuples: orjson does not serialize tuple subclasses.
    return [tuple(item) for item in sorted(metafields)]


def product_hash(product: ProductDraft) -> str:
    """The content hash of a product: 32 hex digits, stable across processes."""
    return xxhash.xxh3_128_hexdigest(product_encoding(product))


def product_encoding(product: ProductDraft) -> bytes:
    """The canonical bytes a product's hash is taken of; `encode_products` writes the same in C."""
    # Every variant field but the last (`row`); metafields sorted so their order never matters.
    # Without variant metafields (the usual case) one C-level map slices them all the same way.
    variants: list[tuple[object, ...]]
    if any(map(_VARIANT_METAFIELDS, product.variants)):
        variants = [
            (*variant[:-2], _metafields(variant.metafields)) if variant.metafields else variant[:-1]
            for variant in product.variants
        ]
    else:
        variants = list(map(_WITHOUT_ROW, product.variants))
    return orjson.dumps(
        (
            HASH_VERSION,
            product.key,
            product.title,
            product.description,
            product.vendor,
            product.product_type,
            product.status,
            product.handle,
            product.seo_title,
            product.seo_description,
            sorted(set(product.tags)),
            product.images,
            product.options,
            variants,
            _metafields(product.metafields),
        )
    )


def product_drafts(columns: Sequence[Sequence[Any]]) -> list[ProductDraft]:
    """`ProductDraft(*fields)` for each row of `columns` (one sequence per field, in field order).

    For the mapping's batch path: the drafts are filled and hashed a column at a time by C-level
    maps, where one `__init__` and `product_hash` call per product was most of its per-product cost.
    The hashes are those `product_hash` gives, byte for byte.
    """
    products: list[ProductDraft] = list(map(_new_object, repeat(ProductDraft, len(columns[0]))))
    # The slots' own setters: no attribute lookup per value, half the cost of object.__setattr__.
    for setter, column in zip(_SETTERS, columns, strict=True):
        deque(map(setter, products, column), maxlen=0)
    deque(map(_SET_HASH, products, _hashes(columns, products)), maxlen=0)
    return products


def _hashes(columns: Sequence[Sequence[Any]], products: list[ProductDraft]) -> Iterator[str]:
    """`product_hash` of each product. The encodings come from erpsync._speedups where it was built,
    else from orjson, C-level too when no metafield order needs sorting out."""
    encode = speedups.encode_products
    if encode is not None and (written := encode(columns, HASH_VERSION)) is not None:
        return map(xxhash.xxh3_128_hexdigest, written)
    (key, title, description, vendor, product_type, status, handle, seo_title, seo_description, tags, images,
     options, variants, metafields) = columns  # fmt: skip
    if max(map(len, metafields), default=0) > 1 or any(
        map(_VARIANT_METAFIELDS, chain.from_iterable(variants))
    ):
        return map(product_hash, products)
    # A lone product metafield is encoded as `_metafields` gives it: `default=tuple` turns the
    # MetafieldDraft (which orjson does not serialize) into the plain tuple.
    encodings = zip(
        repeat(HASH_VERSION), key, title, description, vendor, product_type, status, handle, seo_title,
        seo_description, map(sorted, map(set, tags)), images, options,
        map(list, map(map, repeat(_WITHOUT_ROW), variants)), metafields,
    )  # fmt: skip
    encoded = map(_dumps_with_tuples, encodings)
    return map(xxhash.xxh3_128_hexdigest, encoded)


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
