"""Records to products (pure): the config's mapping applied row by row, bad rows explained.

Rows sharing a `product_key` become the variants of one product; they must be adjacent in the feed,
which is how ERPs export them, so memory holds one product at a time. Every problem is a `RowError`
(row, SKU, field, message) and rejects the whole product, since a product written without one of its
variants would delete that variant in Shopify. Problems found after a product was emitted (a SKU
repeated further down, a product's rows not adjacent) reject it late: the sync engine must drop
every product whose key is in `MapOutcome.rejected_keys` before it writes, and must not delete a
tracked product whose key or SKU is in the outcome's rejected sets.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from erpsync.drafts import MapOutcome, MetafieldDraft, ProductDraft, RowError, VariantDraft
from erpsync.extract import dict_extractor, path_getter, row_extractor
from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import RecordBatch
from erpsync.models import MetafieldMapping, SyncConfig
from erpsync.seen import SeenIndex
from erpsync.values import (
    ValueProblem,
    check_metafield,
    clean_text,
    memoized,
    parse_bool,
    parse_integer,
    parse_money,
    parse_status,
    parse_weight,
    parse_weight_unit,
    split_list,
    split_urls,
    to_text,
)

# https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet (VARIANTS_OVER_LIMIT)
MAX_VARIANTS = 2048
MAX_OPTIONS = 3
_PRODUCT_TEXT_TARGETS = ("description", "vendor", "product_type", "handle", "seo_title", "seo_description")


class _Group:
    """The rows of the product being read."""

    __slots__ = (
        "count",
        "first_row",
        "first_sku",
        "key",
        "ordinal",
        "rejected",
        "skus",
        "values",
        "variants",
    )

    def __init__(self, key: str, ordinal: int, row: int, sku: str | None, values: tuple[Any, ...]) -> None:
        self.key = key
        self.ordinal = ordinal
        self.first_row = row
        self.first_sku = sku
        self.values = values
        self.variants: list[VariantDraft] = []
        self.skus: list[str] = []
        self.rejected = False
        self.count = 0


Parser = Callable[[Any], Any]


class FeedMapper:
    """Applies one config's mapping to record batches, emitting each product once it is complete."""

    def __init__(self, config: SyncConfig, *, feed: str = "feed", max_errors: int = 10_000) -> None:
        self._feed = feed
        self._sources: list[str] = []
        mapping = config.mapping
        options = config.format_options
        money = partial(parse_money, decimal_comma=options.decimal_comma)
        self._decimal_comma = options.decimal_comma
        self._separator = options.tags_separator
        self._sku_slot = self._slot(mapping["variant.sku"])
        self._key_slot = self._slot(config.product_key) if config.product_key else None
        self._title_slot = self._slot(mapping["title"]) if "title" in mapping else None
        self._text_slots = [
            (target, self._slot(mapping[target])) for target in _PRODUCT_TEXT_TARGETS if target in mapping
        ]
        self._status_slot = self._optional_slot(mapping, "status")
        self._tags_slot = self._optional_slot(mapping, "tags")
        self._images_slot = self._optional_slot(mapping, "images")
        # Position in the parsed list, target, parser; positions follow _VARIANT_FIELDS.
        variant_parsers: dict[str, Parser] = {
            "variant.price": memoized(money),
            "variant.compare_at_price": memoized(money),
            "variant.barcode": clean_text,
            "variant.inventory_quantity": memoized(parse_integer),
            "variant.weight_unit": memoized(parse_weight_unit),
            "variant.taxable": memoized(parse_bool),
            "variant.image": _one_url,
        }
        self._variant_fields = [
            (position, target, self._slot(mapping[target]), parser)
            for position, (target, parser) in enumerate(variant_parsers.items())
            if target in mapping
        ]
        self._price_required = "variant.price" in mapping
        self._weight_slot = self._optional_slot(mapping, "variant.weight")
        self._parse_weight = memoized(partial(parse_weight, decimal_comma=options.decimal_comma))
        option_targets = [f"variant.option{number}" for number in range(1, MAX_OPTIONS + 1)]
        mapped_options = [target for target in option_targets if target in mapping]
        self._option_slots = [self._slot(mapping[target]) for target in mapped_options]
        self._option_targets = mapped_options
        self._option_names = tuple(
            config.options[index] if index < len(config.options) else _option_name(mapping[target])
            for index, target in enumerate(mapped_options)
        )
        self._product_metafields = [
            (item, self._slot(item.source_key), self._metafield_parser(item))
            for item in config.metafield_mappings
            if item.owner == "product"
        ]
        self._variant_metafields = [
            (item, self._slot(item.source_key), self._metafield_parser(item))
            for item in config.metafield_mappings
            if item.owner == "variant"
        ]
        self._max_errors = max_errors
        self._columns: tuple[str, ...] | None = None
        self._extract: Callable[[Any], tuple[Any, ...]] | None = None
        self._checked_layout = False
        self._group: _Group | None = None
        self._ready: list[ProductDraft] = []
        self._skus = SeenIndex()
        self._keys = SeenIndex() if self._key_slot is not None else None
        self._ordinal_keys: list[str] = []
        self._ordinal_rows = array("I")
        self._late_rejected: set[int] = set()
        self._errors: list[RowError] = []
        self._errors_seen = 0
        self._rows = 0
        self._mapped_rows = 0
        self._rejected_rows = 0
        self._products = 0
        self._variants = 0
        self._rejected_keys: set[str] = set()
        self._rejected_skus: set[str] = set()

    def _slot(self, path: str) -> int:
        if path not in self._sources:
            self._sources.append(path)
        return self._sources.index(path)

    def _optional_slot(self, mapping: dict[str, str], target: str) -> int | None:
        return self._slot(mapping[target]) if target in mapping else None

    def _metafield_parser(self, item: MetafieldMapping) -> Parser:
        """Raw value → checked MetafieldDraft; drafts are immutable, so equal values share one."""
        separator, decimal_comma = self._separator, self._decimal_comma

        def draft(raw: Any) -> MetafieldDraft:
            value = check_metafield(item.type, raw, separator=separator, decimal_comma=decimal_comma)
            return MetafieldDraft(item.namespace, item.key, item.type, value)

        return memoized(draft)

    # -- feeding -------------------------------------------------------------------------------

    def map_batch(self, batch: RecordBatch) -> list[ProductDraft]:
        """Map a batch of records; return the products it completed."""
        extract = self._bind(batch)
        row = batch.first_row
        map_row = self._map_row
        for record in batch.records:
            try:
                values = extract(record)
            except (AttributeError, TypeError):
                # A JSON element that is a string or a list rather than an object.
                self._error(row, None, "record", f"is not an object but {type(record).__name__}")
                self._rows += 1
                self._rejected_rows += 1
                row += 1
                continue
            map_row(row, values)
            row += 1
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[ProductDraft]:
        """The feed ended: emit the last product."""
        if self._group is not None:
            self._close(self._group)
            self._group = None
        ready, self._ready = self._ready, []
        return ready

    def outcome(self) -> MapOutcome:
        """Counts and errors so far (complete after `finish`)."""
        late_keys = {self._ordinal_keys[ordinal] for ordinal in self._late_rejected}
        return MapOutcome(
            rows=self._rows,
            mapped_rows=self._mapped_rows,
            rejected_rows=self._rejected_rows,
            products=self._products,
            variants=self._variants,
            errors=tuple(self._errors),
            errors_not_kept=self._errors_seen - len(self._errors),
            rejected_keys=frozenset(self._rejected_keys | late_keys),
            rejected_skus=frozenset(self._rejected_skus),
        )

    def _bind(self, batch: RecordBatch) -> Callable[[Any], tuple[Any, ...]]:
        if self._extract is not None and batch.columns is self._columns:
            return self._extract
        self._columns = batch.columns
        if batch.columns is None:
            self._extract = dict_extractor(self._sources)
            if not self._checked_layout:
                self._check_keyed_layout(batch.records)
        else:
            self._extract = row_extractor(self._sources, batch.columns, feed=self._feed)
        self._checked_layout = True
        return self._extract

    def _check_keyed_layout(self, records: list[Any]) -> None:
        """If no record of the first batch has a SKU, the records path or the mapping is wrong."""
        sku_path = self._sources[self._sku_slot]
        getter = path_getter(sku_path)
        sample = records[:1000]
        if sample and all(not isinstance(record, dict) or getter(record) is None for record in sample):
            first = sample[0]
            keys = ", ".join(list(first)[:12]) if isinstance(first, dict) else type(first).__name__
            raise FeedLayoutError(
                self._feed, f"no record has the SKU field {sku_path!r} (first record: {keys})"
            )

    # -- one row -------------------------------------------------------------------------------

    def _map_row(self, row: int, values: tuple[Any, ...]) -> None:
        self._rows += 1
        raw_sku = values[self._sku_slot]
        sku = raw_sku.strip() if raw_sku.__class__ is str else _safe_text(raw_sku)
        key = sku
        if self._key_slot is not None:
            raw_key = values[self._key_slot]
            key = (raw_key.strip() if raw_key.__class__ is str else _safe_text(raw_key)) or sku
        if not key:
            self._error(row, None, "variant.sku", "has no SKU")
            self._rejected_rows += 1
            return
        group = self._group
        if group is None or key != group.key:
            if group is not None:
                self._close(group)
            group = self._group = self._open(key, row, sku, values)
        group.count += 1
        if not sku:
            self._reject(group, row, None, "variant.sku", "has no SKU")
            return
        group.skus.append(sku)
        seen = self._skus.add(sku, row, group.ordinal)
        if seen is not None:
            first_row, first_ordinal = seen
            self._reject(group, first_row, sku, "variant.sku", f"SKU {sku!r} appears again at row {row}")
            self._reject(group, row, sku, "variant.sku", f"SKU {sku!r} already appears at row {first_row}")
            if first_ordinal != group.ordinal:
                self._reject_emitted(first_ordinal)
            return
        variant = self._variant(row, sku, values, group)
        if variant is not None and len(group.variants) <= MAX_VARIANTS:
            group.variants.append(variant)

    def _variant(self, row: int, sku: str, values: tuple[Any, ...], group: _Group) -> VariantDraft | None:
        # price, compare_at_price, barcode, inventory_quantity, weight_unit, taxable, image
        parsed: list[Any] = [None] * 7
        ok = True
        for position, target, slot, parser in self._variant_fields:
            raw = values[slot]
            if raw is None or raw == "":
                continue
            try:
                parsed[position] = parser(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, target, str(problem))
        if self._price_required and parsed[0] is None and ok:
            ok = self._reject(group, row, sku, "variant.price", "is empty")
        weight = unit = None
        if self._weight_slot is not None and (raw := values[self._weight_slot]) is not None and raw != "":
            try:
                weight, unit = self._parse_weight(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, "variant.weight", str(problem))
        metafields = self._metafields(self._variant_metafields, values, row, sku, group)
        if not ok or metafields is None:
            return None
        option_values = tuple([clean_text_or_empty(values[slot]) for slot in self._option_slots])
        price, compare_at, barcode, quantity, weight_unit, taxable, image = parsed
        return VariantDraft(
            sku, price, compare_at, barcode, quantity, weight, weight_unit or unit, option_values, taxable, image,
            metafields, row,
        )  # fmt: skip

    def _metafields(
        self,
        mappings: list[tuple[MetafieldMapping, int, Parser]],
        values: tuple[Any, ...],
        row: int,
        sku: str | None,
        group: _Group,
    ) -> tuple[MetafieldDraft, ...] | None:
        if not mappings:
            return ()
        drafts: list[MetafieldDraft] = []
        ok = True
        for item, slot, parser in mappings:
            raw = values[slot]
            if raw is None or raw == "":
                continue
            try:
                drafts.append(parser(raw))
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, f"metafield {item.namespace}.{item.key}", str(problem))
        return tuple(drafts) if ok else None

    # -- one product ---------------------------------------------------------------------------

    def _open(self, key: str, row: int, sku: str | None, values: tuple[Any, ...]) -> _Group:
        ordinal = len(self._ordinal_keys)
        self._ordinal_keys.append(key)
        self._ordinal_rows.append(0)
        group = _Group(key, ordinal, row, sku, values)
        if self._keys is not None:
            seen = self._keys.add(key, row, ordinal)
            if seen is not None:
                first_row, first_ordinal = seen
                self._reject(
                    group,
                    row,
                    sku,
                    "product_key",
                    f"rows of product {key!r} are not adjacent (it started at row {first_row})",
                )
                self._reject_emitted(first_ordinal)
        return group

    def _close(self, group: _Group) -> None:
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

    def _product(self, group: _Group) -> ProductDraft | None:
        variants = group.variants
        if len(variants) > MAX_VARIANTS:
            extra = variants[MAX_VARIANTS]
            message = f"product {group.key!r} has over {MAX_VARIANTS} variants, Shopify's limit"
            self._reject(group, extra.row, extra.sku, "product_key", message)
            return None
        options, variants = self._check_options(group)
        values = group.values
        row, sku = group.first_row, group.first_sku
        fields: dict[str, Any] = {}
        for target, slot in self._text_slots:
            try:
                fields[target] = to_text(values[slot])
            except ValueProblem as problem:
                self._reject(group, row, sku, target, str(problem))
        title: str | None = group.key
        if self._title_slot is not None:
            try:
                title = to_text(values[self._title_slot])
            except ValueProblem as problem:
                self._reject(group, row, sku, "title", str(problem))
            if title is None and not group.rejected:
                self._reject(group, row, sku, "title", "is empty")
        parsers: tuple[tuple[str, int | None, Parser], ...] = (
            ("status", self._status_slot, parse_status),
            ("tags", self._tags_slot, partial(split_list, separator=self._separator)),
            ("images", self._images_slot, split_urls),
        )
        for target, source, parser in parsers:
            if source is None or values[source] is None or values[source] == "":
                continue
            try:
                fields[target] = parser(values[source])
            except ValueProblem as problem:
                self._reject(group, row, sku, target, str(problem))
        metafields = self._metafields(self._product_metafields, values, row, sku, group)
        if group.rejected or metafields is None or title is None:
            return None
        return ProductDraft(
            key=group.key,
            title=title,
            description=fields.get("description"),
            vendor=fields.get("vendor"),
            product_type=fields.get("product_type"),
            status=fields.get("status"),
            handle=fields.get("handle"),
            seo_title=fields.get("seo_title"),
            seo_description=fields.get("seo_description"),
            tags=tuple(sorted(set(fields.get("tags", ())))),
            images=fields.get("images", ()),
            options=options,
            variants=tuple(variants),
            metafields=metafields,
        )

    def _check_options(self, group: _Group) -> tuple[tuple[str, ...], list[VariantDraft]]:
        """Option names for the product; every variant needs a distinct combination of values."""
        variants = group.variants
        names = self._option_names
        if len(variants) == 1:
            # A lone variant keeps only the options it has a value for.
            only = variants[0]
            kept = [index for index, value in enumerate(only.option_values) if value]
            if len(kept) == len(names):
                return names, variants
            values = tuple(only.option_values[index] for index in kept)
            return tuple(names[index] for index in kept), [only._replace(option_values=values)]
        seen: dict[tuple[str, ...], VariantDraft] = {}
        for variant in variants:
            for index, value in enumerate(variant.option_values):
                if not value:
                    target = self._option_targets[index]
                    self._reject(
                        group, variant.row, variant.sku, target, "is empty, but the product has variants"
                    )
            first = seen.setdefault(variant.option_values, variant)
            if first is not variant:
                described = ", ".join(variant.option_values) or "none"
                field = self._option_targets[0] if self._option_targets else "variant.option1"
                message = f"option values ({described}) are the same as row {first.row}'s"
                if not names:
                    message = f"no option tells it from row {first.row} (map variant.option1)"
                self._reject(group, variant.row, variant.sku, field, message)
        return names, variants

    # -- errors --------------------------------------------------------------------------------

    def _error(self, row: int, sku: str | None, field: str, message: str) -> None:
        self._errors_seen += 1
        if len(self._errors) < self._max_errors:
            self._errors.append(RowError(row, sku, field, message))

    def _reject(self, group: _Group, row: int, sku: str | None, field: str, message: str) -> bool:
        """Record the error and reject the product; returns False for `ok = self._reject(...)`."""
        self._error(row, sku, field, message)
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


def map_records(config: SyncConfig, batches: Iterable[RecordBatch]) -> tuple[list[ProductDraft], MapOutcome]:
    """Map a whole feed held in memory; for tests and small previews."""
    mapper = FeedMapper(config)
    products: list[ProductDraft] = []
    for batch in batches:
        products.extend(mapper.map_batch(batch))
    products.extend(mapper.finish())
    outcome = mapper.outcome()
    dropped = outcome.rejected_keys
    return [product for product in products if product.key not in dropped], outcome


def clean_text_or_empty(value: Any) -> str:
    """An option value: trimmed text, "" when absent or not text."""
    if value.__class__ is str:
        return value.strip()
    return _safe_text(value) or ""


def _safe_text(value: Any) -> str | None:
    try:
        return to_text(value)
    except ValueProblem:
        return None


def _one_url(value: Any) -> str:
    urls = split_urls(value)
    if len(urls) != 1:
        raise ValueProblem("must be one http(s) URL")
    return urls[0]


def _option_name(path: str) -> str:
    name = path.rsplit(".", 1)[-1].lstrip("@")
    return name[:1].upper() + name[1:]


__all__ = ["FeedMapper", "MapOutcome", "RowError", "map_records"]
