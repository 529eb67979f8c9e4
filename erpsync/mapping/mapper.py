"""Records to products (pure): the config's mapping applied row by row, bad rows explained.

Rows sharing a `product_key` become the variants of one product; here they must be adjacent, which
is how most ERPs export them, so memory holds one product at a time (the other shapes are regrouped
into this one first: grouping.py). Every problem is a `RowError` (row, SKU, field, message) and
rejects the whole product, since a product written without one of its variants would delete that
variant in Shopify. Problems found after a product was emitted (a SKU repeated further down, a
product's rows not adjacent) reject it late: the sync engine must drop every product whose key is in
`MapOutcome.rejected_keys` before it writes, and must not delete a tracked product whose key or SKU
is in the outcome's rejected sets.

A batch is mapped column by column (columns.py) unless a value there needs explaining, when the
row path (rows.py) maps it; both give the same drafts, hashes and errors.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from erpsync.feed_config import PriceRule
from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import RecordBatch
from erpsync.mapping.columns import ColumnPath
from erpsync.mapping.drafts import MapOutcome, MetafieldDraft, ProductDraft
from erpsync.mapping.extract import column_reader, dict_extractor, path_getter, row_extractor
from erpsync.mapping.grouping import KEY_FIELD
from erpsync.mapping.images import one_url
from erpsync.mapping.metafield_values import check_metafield
from erpsync.mapping.money import money_parser, parse_weight, parse_weight_unit
from erpsync.mapping.options import OptionsPart, option_name, option_value
from erpsync.mapping.rows import RowPath
from erpsync.mapping.seen import SeenIndex
from erpsync.mapping.state import (
    MAX_HELD_ROWS,
    MAX_OPTIONS,
    MAX_VARIANTS,
    PRODUCT_FIELDS,
    PRODUCT_TEXT_TARGETS,
    Parser,
)
from erpsync.mapping.values import (
    PLAIN_INTEGER,
    PLAIN_MONEY,
    ColumnParser,
    MemoTable,
    PlainColumn,
    StrippedColumn,
    TextColumn,
    parse_bool,
    parse_integer,
    parse_status,
    safe_text,
    split_list,
    split_urls,
)
from erpsync.models import MetafieldMapping, SyncConfig


class FeedMapper(ColumnPath, RowPath, OptionsPart):
    """Applies one config's mapping to record batches, emitting each product once it is complete."""

    def __init__(
        self, config: SyncConfig, *, feed: str = "feed", max_errors: int = 10_000, currency: str | None = None
    ) -> None:
        self._feed = feed
        self._currency = currency
        self._sources: list[str] = []
        mapping = config.mapping
        options = config.format_options
        rule = config.price_rule
        prices = set(rule.applies_to) if rule is not None else set()
        self._decimal_comma = options.decimal_comma
        self._separator = options.tags_separator
        self._sku_slot = self._slot(mapping["variant.sku"])
        self._key_slot = self._slot(config.product_key) if config.product_key else None
        self._title_slot = self._slot(mapping["title"]) if "title" in mapping else None
        self._text_slots = [
            (PRODUCT_FIELDS.index(target), target, self._slot(mapping[target]))
            for target in PRODUCT_TEXT_TARGETS
            if target in mapping
        ]
        # Position in the parsed list, target, parser; positions follow _VARIANT_FIELDS.
        variant_parsers: dict[str, ColumnParser] = {
            "variant.price": self._money_column(rule if "price" in prices else None),
            "variant.compare_at_price": self._money_column(rule if "compare_at_price" in prices else None),
            "variant.barcode": TextColumn(),
            "variant.inventory_quantity": PlainColumn(PLAIN_INTEGER, MemoTable(parse_integer), convert=int),
            "variant.weight_unit": MemoTable(parse_weight_unit),
            "variant.taxable": MemoTable(parse_bool),
            "variant.image": MemoTable(one_url),
        }
        self._variant_fields = [
            (position, target, self._slot(mapping[target]), parser)
            for position, (target, parser) in enumerate(variant_parsers.items())
            if target in mapping
        ]
        self._price_required = "variant.price" in mapping
        self._unit_mapped = "variant.weight_unit" in mapping
        self._weight_slot = self._optional_slot(mapping, "variant.weight")
        self._weight = MemoTable(partial(parse_weight, decimal_comma=options.decimal_comma))
        option_targets = [f"variant.option{number}" for number in range(1, MAX_OPTIONS + 1)]
        mapped_options = [target for target in option_targets if target in mapping]
        self._option_slots = [self._slot(mapping[target]) for target in mapped_options]
        self._option_targets = mapped_options
        self._option_values = StrippedColumn(MemoTable(option_value, empty=""))
        self._option_names = tuple(
            config.options[index] if index < len(config.options) else option_name(mapping[target])
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
        self._product_parsers = self._product_field_parsers(mapping)
        self._shape_slots(config, len(mapped_options))
        self._text_column = TextColumn()
        self._variant_slots, self._product_slots = self._batch_slots()
        self._variant_value_slots = [
            slot for slot in self._variant_slots if slot not in (self._sku_slot, self._key_slot)
        ]
        self._targets = {
            self._sources.index(path): target for target, path in mapping.items() if path in self._sources
        }
        if self._key_slot is not None:
            # A regrouped feed's key is computed: a problem with it is one of the grouping's.
            self._targets[self._key_slot] = "grouping" if config.product_key == KEY_FIELD else "product_key"
        self._unseen = set(range(len(self._sources)))
        self._numbers: Sequence[int] = ()
        self._lines: Sequence[int | None] | None = None
        self._line_at: dict[int, int | None] | None = None
        self._init_counts(max_errors)

    def _init_counts(self, max_errors: int) -> None:
        """The state a feed's mapping starts from: nothing read, nothing open, nothing counted."""
        self._max_errors = max_errors
        self._columns: tuple[str, ...] | None = None
        self._extract: Callable[[Any], tuple[Any, ...]] | None = None
        self._checked_layout = False
        self._group = None
        self._ready = []
        # The last product's rows of the last batch, mapped with the next one.
        self._held: RecordBatch | None = None
        # Set while mapping a batch whose last row ends a product (the rows after it are held).
        self._ends_whole = False
        # The batch's option values, as `_build_variants` read them for `_settle`.
        self._batch_options = []
        self._batch_options_missing = False
        self._skus = SeenIndex()
        self._keys = SeenIndex() if self._key_slot is not None else None
        self._ordinal_keys = []
        self._ordinal_rows = array("I")
        self._late_rejected = set()
        self._errors = []
        self._errors_seen = 0
        self._rows = self._mapped_rows = self._rejected_rows = self._products = self._variants = 0
        self._rejected_keys = set()
        self._rejected_skus = set()

    def _shape_slots(self, config: SyncConfig, options: int) -> None:
        """The slots of per-product option names and of images, which every row of a product adds to."""
        mapping = config.mapping
        unit = config.default_weight_unit
        self._default_unit = parse_weight_unit(unit) if unit else None
        self._name_slots = [
            (index, self._slot(mapping[f"option{index + 1}.name"]))
            for index in range(options)
            if f"option{index + 1}.name" in mapping
        ]
        self._images_slot = self._optional_slot(mapping, "images")
        self._images_parser = MemoTable(split_urls, empty=())
        self._variant_image_slot = self._optional_slot(mapping, "variant.image")

    def _slot(self, path: str) -> int:
        if path not in self._sources:
            self._sources.append(path)
        return self._sources.index(path)

    def _product_field_parsers(self, mapping: dict[str, str]) -> list[tuple[int, str, int, MemoTable]]:
        """(position in PRODUCT_FIELDS, target, slot, parser) of the mapped status, tags and images."""
        tags = partial(split_list, separator=self._separator)
        product_parsers: tuple[tuple[str, Parser], ...] = (
            ("status", parse_status),
            # Stored sorted and unique, as the hash sees them: Shopify keeps no tag order.
            ("tags", lambda raw: tuple(sorted(set(tags(raw))))),
            ("images", split_urls),
        )
        return [
            (
                position,
                target,
                self._slot(mapping[target]),
                MemoTable(parse, empty=None if position < 7 else ()),
            )
            for target, parse in product_parsers
            if target in mapping
            for position in [PRODUCT_FIELDS.index(target)]
        ]

    def _batch_slots(self) -> tuple[list[int], list[int]]:
        """The slots the batch path reads: every row's for variants, each product's first row's for it."""
        variant_slots = [
            self._sku_slot,
            *([self._key_slot] if self._key_slot is not None else []),
            *(slot for _, _, slot, _ in self._variant_fields),
            *([self._weight_slot] if self._weight_slot is not None else []),
            *self._option_slots,
            *(slot for _, slot, _ in self._variant_metafields),
            *([self._images_slot] if self._images_slot is not None else []),
        ]
        product_slots = [
            *([self._title_slot] if self._title_slot is not None else []),
            *(slot for _, _, slot in self._text_slots),
            *(slot for _, _, slot, _ in self._product_parsers),
            *(slot for _, slot, _ in self._product_metafields),
            *(slot for _, slot in self._name_slots),
        ]
        return variant_slots, product_slots

    def _money_column(self, rule: PriceRule | None) -> ColumnParser:
        """Prices: plain "19.90" columns pass as they are, unless decimals are written with a comma or
        a price rule changes them; others are checked against the shop's currency."""
        memo = MemoTable(money_parser(decimal_comma=self._decimal_comma, currency=self._currency, rule=rule))
        return memo if self._decimal_comma or rule is not None else PlainColumn(PLAIN_MONEY, memo)

    def _optional_slot(self, mapping: dict[str, str], target: str) -> int | None:
        return self._slot(mapping[target]) if target in mapping else None

    def _metafield_parser(self, item: MetafieldMapping) -> MemoTable:
        """Raw value → checked MetafieldDraft; drafts are immutable, so equal values share one."""
        separator, decimal_comma = self._separator, self._decimal_comma

        def draft(raw: Any) -> MetafieldDraft:
            value = check_metafield(item.type, raw, separator=separator, decimal_comma=decimal_comma)
            return MetafieldDraft(item.namespace, item.key, item.type, value)

        return MemoTable(draft)

    # -- feeding -------------------------------------------------------------------------------

    def map_batch(self, batch: RecordBatch) -> list[ProductDraft]:
        """Map a batch of records; return the products it completed."""
        self._map_batch(batch, final=False)
        ready, self._ready = self._ready, []
        return ready

    def _map_batch(self, batch: RecordBatch, *, final: bool) -> None:
        """Map the rows held back from the last batch and this batch's, holding back its last product's.

        A product cut by a batch boundary has to be assembled across batches, which costs the batch
        path several times a whole product's work; holding its rows back for the next batch (they are
        few) keeps every product whole. Rows are still mapped in feed order, so nothing else changes.
        """
        if self._held is not None:
            held, self._held = self._held, None
            batch = held.joined(batch)
        extract = self._bind(batch)
        count, held_key = (0, None) if final else self._last_product_rows(batch.records, extract)
        if count:
            batch, self._held = batch.split(count)
        self._ends_whole = bool(count)
        self._numbers, self._lines, self._line_at = batch.numbers(), batch.lines, None
        try:
            if not self._map_columns(batch):
                self._map_rows(batch, extract)
        finally:
            self._ends_whole = False
        if count and self._group is not None and self._group.key != held_key:
            # The held rows start another product: this one is complete, as their arrival would say.
            self._close(self._group)
            self._group = None

    def _last_product_rows(
        self, records: list[Any], extract: Callable[[Any], tuple[Any, ...]]
    ) -> tuple[int, str | None]:
        """How many rows at the end of the batch belong to the last row's product, and its key;
        (0, None) to hold none back: no product key, a run as long as the batch or longer than
        MAX_HELD_ROWS, or a row the row path must explain."""
        if self._key_slot is None or len(records) < 2:
            return 0, None
        last: str | None = None
        for count, record in enumerate(records[-1 : -MAX_HELD_ROWS - 2 : -1]):
            try:
                key = self._effective_key(extract(record))
            except (AttributeError, TypeError):
                return 0, None
            if not key:
                return 0, None
            if last is None:
                last = key
            elif key != last:
                return (count, last) if count < len(records) else (0, None)
        return 0, None

    def _effective_key(self, values: tuple[Any, ...]) -> str | None:
        """The product key `_map_row` gives a row: its key cell, else its SKU, trimmed."""
        assert self._key_slot is not None
        raw_key, raw_sku = values[self._key_slot], values[self._sku_slot]
        key = raw_key.strip() if raw_key.__class__ is str else safe_text(raw_key)
        return key or (raw_sku.strip() if raw_sku.__class__ is str else safe_text(raw_sku))

    def _map_rows(self, batch: RecordBatch, extract: Callable[[Any], tuple[Any, ...]]) -> None:
        """The row-by-row path: slower, and the one that pinpoints every bad value."""
        map_row = self._map_row
        for row, record in zip(self._numbers, batch.records, strict=True):
            try:
                values = extract(record)
            except (AttributeError, TypeError):
                # A JSON element that is a string or a list rather than an object.
                self._error(row, None, "record", f"is not an object but {type(record).__name__}")
                self._rows += 1
                self._rejected_rows += 1
                continue
            map_row(row, values)

    def finish(self) -> list[ProductDraft]:
        """The feed ended: emit the last product."""
        if self._held is not None:
            self._map_batch(RecordBatch(self._held.columns, self._held.first_row, [], rows=()), final=True)
        if self._group is not None:
            self._close(self._group)
            self._group = None
        ready, self._ready = self._ready, []
        return ready

    @property
    def rows(self) -> int:
        """Records read so far, for progress; `outcome()` copies the errors, too costly per batch."""
        return self._rows

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
            missing_paths=tuple(self._sources[slot] for slot in sorted(self._unseen)) if self._rows else (),
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
        self._read_columns = column_reader(self._sources, self._variant_slots, batch.columns, self._extract)
        self._read_product_columns = column_reader(
            self._sources, self._product_slots, batch.columns, self._extract
        )
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


__all__ = ["MAX_VARIANTS", "FeedMapper", "MapOutcome"]
