"""What the mapper's parts share: its state, the product being read, and how products close.

`FeedMapper` (mapper.py) is assembled from parts, each a module: the batch path (columns.py), the
row path (rows.py) and the option checks (options.py). Each part reads and writes the state declared
here; a method one part calls on another is declared here too, so each module type-checks alone.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any

from erpsync.mapping.drafts import MetafieldDraft, ProductDraft, RowError, VariantDraft
from erpsync.mapping.extract import ColumnReader
from erpsync.mapping.images import gallery
from erpsync.mapping.seen import SeenIndex
from erpsync.mapping.values import MemoTable, StrippedColumn, TextColumn
from erpsync.models import MetafieldMapping

# https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet (VARIANTS_OVER_LIMIT)
MAX_VARIANTS = 2048
MAX_OPTIONS = 3
# A product with more rows than this at the end of a batch is assembled across batches instead.
MAX_HELD_ROWS = 256
PRODUCT_TEXT_TARGETS = ("description", "vendor", "product_type", "handle", "seo_title", "seo_description")
# ProductDraft's fields between title and options, in order: `_product` fills them by position.
PRODUCT_FIELDS = (
    "description", "vendor", "product_type", "status", "handle", "seo_title", "seo_description", "tags", "images",
)  # fmt: skip
# Where a product's parsed fields hold its images and its option names (after the metafields).
IMAGES_FIELD = 1 + PRODUCT_FIELDS.index("images")
NAMES_FIELD = 2 + len(PRODUCT_FIELDS)

NO_WEIGHT_UNIT = "has no unit; set default_weight_unit or map variant.weight_unit"

Parser = Callable[[Any], Any]
# The raw value columns of one batch, by slot.
Columns = dict[int, list[Any]]


class Group:
    """The rows of the product being read."""

    __slots__ = (
        "count",
        "fields",
        "first_row",
        "first_sku",
        "images",
        "key",
        "ordinal",
        "rejected",
        "skus",
        "values",
        "variants",
    )

    def __init__(
        self, key: str, ordinal: int, row: int, sku: str | None, values: tuple[Any, ...], *, fields: Any
    ) -> None:
        self.key = key
        # Set by the batch path: the product's fields, parsed; the row path parses `values` at close.
        self.fields = fields
        self.ordinal = ordinal
        self.first_row = row
        self.first_sku = sku
        self.values = values
        self.variants: list[VariantDraft] = []
        # A set: a product whose rows repeat one SKU (a decompression bomb) holds it once, not per row.
        self.skus: set[str] = set()
        self.rejected = False
        self.count = 0
        # Images of the product's rows after its first, in feed order (image-only rows included).
        self.images: list[str] = []


class MapperState:
    """The attributes every part of the mapper reads, set by `FeedMapper.__init__`."""

    _feed: str
    _sources: list[str]
    _targets: dict[int, str]
    _decimal_comma: bool
    _separator: str
    _sku_slot: int
    _key_slot: int | None
    _title_slot: int | None
    _text_slots: list[tuple[int, str, int]]
    _variant_fields: list[tuple[int, str, int, Any]]
    _price_required: bool
    _unit_mapped: bool
    _weight_slot: int | None
    _weight: MemoTable
    _default_unit: str | None
    _option_slots: list[int]
    _option_targets: list[str]
    _option_values: StrippedColumn
    _option_names: tuple[str, ...]
    _name_slots: list[tuple[int, int]]
    _images_slot: int | None
    _images_parser: MemoTable
    _variant_image_slot: int | None
    # The slots of every variant field: a row without a SKU and a value in none of them but images
    # is an image row.
    _variant_value_slots: list[int]
    # Mapped slots no record has had a value for yet.
    _unseen: set[int]
    _product_metafields: list[tuple[MetafieldMapping, int, MemoTable]]
    _variant_metafields: list[tuple[MetafieldMapping, int, MemoTable]]
    _product_parsers: list[tuple[int, str, int, MemoTable]]
    _text_column: TextColumn
    _read_columns: ColumnReader | None
    _read_product_columns: ColumnReader | None
    _group: Group | None
    _ready: list[ProductDraft]
    _ends_whole: bool
    _batch_options: list[tuple[str, ...]]
    _batch_options_missing: bool
    _skus: SeenIndex
    _keys: SeenIndex | None
    _ordinal_keys: list[str]
    _ordinal_rows: array[int]
    _late_rejected: set[int]
    _errors: list[RowError]
    _errors_seen: int
    _max_errors: int
    _rows: int
    _mapped_rows: int
    _rejected_rows: int
    _products: int
    _variants: int
    _rejected_keys: set[str]
    _rejected_skus: set[str]
    # The rows and file lines of the batch being mapped, for the lines errors name.
    _numbers: Sequence[int]
    _lines: Sequence[int | None] | None
    _line_at: dict[int, int | None] | None

    # -- parts other modules provide ---------------------------------------------------------

    def _parse_product(self, group: Group) -> tuple[Any, ...] | None:
        raise NotImplementedError  # rows.py

    def _settled_options(
        self, names: tuple[str, ...], variants: list[VariantDraft]
    ) -> tuple[tuple[str, ...], list[VariantDraft]] | None:
        raise NotImplementedError  # options.py

    def _check_options(
        self, group: Group, names: tuple[str, ...]
    ) -> tuple[tuple[str, ...], list[VariantDraft]]:
        raise NotImplementedError  # options.py

    # -- one product ---------------------------------------------------------------------------

    def _open(self, key: str, row: int, sku: str | None, values: tuple[Any, ...]) -> Group:
        group = self._start(key, row, sku, values)
        if self._keys is not None:
            seen = self._keys.add(key, row, group.ordinal)
            if seen is not None:
                self._repeated_key(group, row, sku, *seen)
        return group

    def _start(
        self,
        key: str,
        row: int,
        sku: str | None,
        values: tuple[Any, ...],
        fields: tuple[Any, ...] | None = None,
    ) -> Group:
        ordinal = len(self._ordinal_keys)
        self._ordinal_keys.append(key)
        self._ordinal_rows.append(0)
        return Group(key, ordinal, row, sku, values, fields=fields)

    def _repeated_sku(self, group: Group, row: int, sku: str, first_row: int, first_ordinal: int) -> None:
        """Both rows of a repeated SKU are errors; an earlier product holding it is withdrawn."""
        self._reject(group, first_row, sku, "variant.sku", f"SKU {sku!r} appears again at row {row}")
        self._reject(group, row, sku, "variant.sku", f"SKU {sku!r} already appears at row {first_row}")
        if first_ordinal != group.ordinal:
            self._reject_emitted(first_ordinal)

    def _repeated_key(
        self, group: Group, row: int, sku: str | None, first_row: int, first_ordinal: int
    ) -> None:
        """A product whose rows are not adjacent: both parts are rejected."""
        message = f"rows of product {group.key!r} are not adjacent (it started at row {first_row})"
        self._reject(group, row, sku, "product_key", message)
        self._reject_emitted(first_ordinal)

    def _whole_product(
        self, key: str, variants: list[VariantDraft], fields: tuple[Any, ...]
    ) -> ProductDraft | None:
        """The product of a complete run of rows, or None if it needs `_close` to explain a problem."""
        if len(variants) > MAX_VARIANTS:
            return None
        settled = self._settled_options(fields[NAMES_FIELD], variants)
        if settled is None:
            return None
        options, variants = settled
        return draft(key, fields, options, variants)

    def _emit(self, product: ProductDraft, rows: int) -> None:
        """Count and hand on a product that was complete and clean as soon as it was read."""
        self._ordinal_keys.append(product.key)
        self._ordinal_rows.append(rows)
        self._mapped_rows += rows
        self._products += 1
        self._variants += rows
        self._ready.append(product)

    def _close(self, group: Group) -> None:
        self._ordinal_rows[group.ordinal] = group.count
        product = None if group.rejected else self._product(group)
        if product is None:
            self._rejected_rows += group.count
            self._rejected_keys.add(group.key)
            self._rejected_skus.update(group.skus)
            return
        self._mapped_rows += group.count
        self._products += 1
        self._variants += len(product.variants)
        self._ready.append(product)

    def _product(self, group: Group) -> ProductDraft | None:
        variants = group.variants
        if len(variants) > MAX_VARIANTS:
            extra = variants[MAX_VARIANTS]
            message = f"product {group.key!r} has over {MAX_VARIANTS} variants, Shopify's limit"
            self._reject(group, extra.row, extra.sku, "product_key", message)
            return None
        if not variants and not group.rejected:
            self._reject(
                group, group.first_row, None, "variant.sku", "has no SKU (its rows hold only images)"
            )
        parsed = group.fields if group.fields is not None else self._parse_product(group)
        names = parsed[NAMES_FIELD] if parsed is not None else self._option_names
        options, variants = self._check_options(group, names)
        if parsed is None or group.rejected:
            return None
        return draft(group.key, parsed, options, variants, group.images)

    # -- errors --------------------------------------------------------------------------------

    def _error(self, row: int, sku: str | None, field: str, message: str, key: str | None = None) -> None:
        self._errors_seen += 1
        if len(self._errors) < self._max_errors:
            self._errors.append(RowError(row, sku, field, message, self._line(row), key))

    def _line(self, row: int) -> int | None:
        """The file line of `row`, if it is in the batch being mapped and the format has lines."""
        if self._lines is None:
            return None
        if self._line_at is None:
            # Built on the batch's first error only: clean batches never pay for it.
            self._line_at = dict(zip(self._numbers, self._lines, strict=False))
        return self._line_at.get(row)

    def _reject(self, group: Group, row: int, sku: str | None, field: str, message: str) -> bool:
        """Record the error and reject the product; returns False for `ok = self._reject(...)`."""
        self._error(row, sku, field, message, group.key)
        group.rejected = True
        return False

    def _reject_emitted(self, ordinal: int) -> None:
        """A product already emitted turns out bad: the engine must drop it by key."""
        if ordinal in self._late_rejected:
            return
        key = self._ordinal_keys[ordinal]
        if key in self._rejected_keys:
            return
        group = self._group
        if group is not None and group.ordinal == ordinal:
            group.rejected = True
            return
        self._late_rejected.add(ordinal)
        moved = self._ordinal_rows[ordinal]
        self._mapped_rows -= moved
        self._rejected_rows += moved
        self._products -= 1
        self._variants -= moved


def draft(
    key: str,
    fields: tuple[Any, ...],
    options: tuple[str, ...],
    variants: list[VariantDraft],
    more_images: Sequence[str] = (),
) -> ProductDraft:
    """The draft from `fields` as both paths give them: title, the PRODUCT_FIELDS, metafields, names;
    `more_images`, from the product's other rows, join its gallery in order, each image once."""
    images = gallery(fields[IMAGES_FIELD], more_images)
    return ProductDraft(
        key, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8],
        images, options, tuple(variants), fields[10],
    )  # fmt: skip


__all__ = ["Columns", "Group", "MapperState", "MetafieldDraft", "Parser", "draft"]
