"""Records to products (pure): the config's mapping applied row by row, bad rows explained.

Rows sharing a `product_key` become the variants of one product; they must be adjacent in the feed,
which is how ERPs export them, so memory holds one product at a time. Every problem is a `RowError`
(row, SKU, field, message) and rejects the whole product, since a product written without one of its
variants would delete that variant in Shopify. Problems found after a product was emitted (a SKU
repeated further down, a product's rows not adjacent) reject it late: the sync engine must drop
every product whose key is in `MapOutcome.rejected_keys` before it writes, and must not delete a
tracked product whose key or SKU is in the outcome's rejected sets.

A batch is first mapped column by column (`_map_columns`), because per-row Python was the measured
bottleneck (issue 5): each field is parsed for the whole batch in C-level passes (a column already in
normal form, such as "19.90" prices, is taken as it is; others go through memo tables), variants are
built straight from the columns, products are cut where the key changes and emitted at once when
complete and clean. Any value that does not parse sends the whole batch, untouched, through the
row-by-row path (`_map_row`), which is the one that explains errors; both give the same drafts,
hashes and errors (tests/feeds/test_mapping_batches.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from functools import partial
from itertools import chain, compress, repeat
from operator import add, eq, itemgetter, ne, sub
from typing import Any, cast

from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import RecordBatch
from erpsync.mapping.drafts import (
    MapOutcome,
    MetafieldDraft,
    ProductDraft,
    RowError,
    VariantDraft,
    product_drafts,
)
from erpsync.mapping.extract import ColumnReader, column_reader, dict_extractor, path_getter, row_extractor
from erpsync.mapping.seen import SeenIndex
from erpsync.mapping.values import (
    PLAIN_DECIMAL,
    PLAIN_INTEGER,
    PLAIN_MONEY,
    ColumnParser,
    MemoTable,
    PlainColumn,
    StrippedColumn,
    TextColumn,
    ValueProblem,
    check_metafield,
    is_plain,
    parse_bool,
    parse_integer,
    parse_money,
    parse_status,
    parse_weight,
    parse_weight_unit,
    safe_text,
    split_list,
    split_urls,
    strip_column,
    to_text,
)
from erpsync.models import MetafieldMapping, SyncConfig

# https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet (VARIANTS_OVER_LIMIT)
MAX_VARIANTS = 2048
MAX_OPTIONS = 3
# A product with more rows than this at the end of a batch is assembled across batches instead.
MAX_HELD_ROWS = 256
_PRODUCT_TEXT_TARGETS = ("description", "vendor", "product_type", "handle", "seo_title", "seo_description")
# ProductDraft's fields between title and options, in order: `_product` fills them by position.
_PRODUCT_FIELDS = (
    "description", "vendor", "product_type", "status", "handle", "seo_title", "seo_description", "tags", "images",
)  # fmt: skip


class _Group:
    """The rows of the product being read."""

    __slots__ = (
        "count",
        "fields",
        "first_row",
        "first_sku",
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


Parser = Callable[[Any], Any]
# The raw value columns of one batch, by slot.
Columns = dict[int, list[Any]]
_new_tuple = tuple.__new__
_option_values_of = itemgetter(VariantDraft._fields.index("option_values"))


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
            (_PRODUCT_FIELDS.index(target), target, self._slot(mapping[target]))
            for target in _PRODUCT_TEXT_TARGETS
            if target in mapping
        ]
        # Position in the parsed list, target, parser; positions follow _VARIANT_FIELDS.
        variant_parsers: dict[str, ColumnParser] = {
            "variant.price": self._money_column(money),
            "variant.compare_at_price": self._money_column(money),
            "variant.barcode": TextColumn(),
            "variant.inventory_quantity": PlainColumn(PLAIN_INTEGER, MemoTable(parse_integer), convert=int),
            "variant.weight_unit": MemoTable(parse_weight_unit),
            "variant.taxable": MemoTable(parse_bool),
            "variant.image": MemoTable(_one_url),
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
        self._option_values = StrippedColumn(MemoTable(clean_text_or_empty, empty=""))
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
        self._product_parsers = self._product_field_parsers(mapping)
        self._text_column = TextColumn()
        self._variant_slots, self._product_slots = self._batch_slots()
        self._max_errors = max_errors
        self._columns: tuple[str, ...] | None = None
        self._extract: Callable[[Any], tuple[Any, ...]] | None = None
        self._read_columns: ColumnReader | None = None
        self._read_product_columns: ColumnReader | None = None
        self._checked_layout = False
        self._group: _Group | None = None
        self._ready: list[ProductDraft] = []
        # The last product's rows of the last batch, mapped with the next one.
        self._held: RecordBatch | None = None
        # Set while mapping a batch whose last row ends a product (the rows after it are held).
        self._ends_whole = False
        # The batch's option values, as `_build_variants` read them for `_settle`.
        self._batch_options: list[tuple[str, ...]] = []
        self._batch_options_missing = False
        self._skus = SeenIndex()
        self._keys = SeenIndex() if self._key_slot is not None else None
        self._ordinal_keys: list[str] = []
        self._ordinal_rows = array("I")
        self._late_rejected: set[int] = set()
        self._errors: list[RowError] = []
        self._errors_seen = 0
        self._rows = self._mapped_rows = self._rejected_rows = self._products = self._variants = 0
        self._rejected_keys: set[str] = set()
        self._rejected_skus: set[str] = set()

    def _slot(self, path: str) -> int:
        if path not in self._sources:
            self._sources.append(path)
        return self._sources.index(path)

    def _product_field_parsers(self, mapping: dict[str, str]) -> list[tuple[int, str, int, MemoTable]]:
        """(position in _PRODUCT_FIELDS, target, slot, parser) of the mapped status, tags and images."""
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
            for position in [_PRODUCT_FIELDS.index(target)]
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
        ]
        product_slots = [
            *([self._title_slot] if self._title_slot is not None else []),
            *(slot for _, _, slot in self._text_slots),
            *(slot for _, _, slot, _ in self._product_parsers),
            *(slot for _, slot, _ in self._product_metafields),
        ]
        return variant_slots, product_slots

    def _money_column(self, money: Parser) -> ColumnParser:
        """Prices: plain "19.90" columns pass as they are, unless decimals are written with a comma."""
        memo = MemoTable(money)
        return memo if self._decimal_comma else PlainColumn(PLAIN_MONEY, memo)

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
            batch = RecordBatch(batch.columns, held.first_row, held.records + batch.records, batch.feed_rows)
        extract = self._bind(batch)
        count, held_key = (0, None) if final else self._last_product_rows(batch.records, extract)
        if count:
            first_held = batch.first_row + len(batch.records) - count
            self._held = RecordBatch(batch.columns, first_held, batch.records[-count:])
            batch = RecordBatch(batch.columns, batch.first_row, batch.records[:-count], batch.feed_rows)
        self._ends_whole = bool(count)
        try:
            if not self._map_columns(batch, extract):
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

    def finish(self) -> list[ProductDraft]:
        """The feed ended: emit the last product."""
        if self._held is not None:
            self._map_batch(RecordBatch(self._held.columns, self._held.first_row, []), final=True)
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

    # -- a whole batch -------------------------------------------------------------------------

    def _map_columns(self, batch: RecordBatch, extract: Callable[[Any], tuple[Any, ...]]) -> bool:
        """Map the batch column by column; False, with nothing changed, if it needs the row path."""
        records = batch.records
        if batch.columns is None and not all(map(isinstance, records, repeat(dict))):
            return False
        assert self._read_columns is not None  # set by _bind
        try:
            built = self._build_variants(self._read_columns(records), batch.first_row, len(records))
            if built is None:
                return False
            variants, skus, keys = built
            starts = [0, *compress(range(1, len(keys)), map(ne, keys[1:], keys))]
            if batch.feed_rows:
                self._reserve(batch.feed_rows, len(starts) / len(keys))
            group = self._group
            continues = group is not None and group.key == keys[0]
            opening = starts[continues:]
            products = self._build_products([records[start] for start in opening], [keys[s] for s in opening])
        except ValueProblem:
            return False
        if products is None:
            return False
        self._group_variants(
            batch, variants, skus, keys, starts=starts, continues=continues, products=products
        )
        return True

    def _reserve(self, rows: int, products_per_row: float) -> None:
        """Size the SKU and product key indexes once for the whole feed, from the first batch's estimate."""
        self._skus.reserve(rows)
        if self._keys is not None:
            self._keys.reserve(round(rows * products_per_row))

    def _build_products(self, firsts: list[Any], keys: list[str]) -> list[list[Any]] | None:
        """Title, the other product fields and metafields of each product from its first row, as columns;
        None if one has a problem to explain."""
        assert self._read_product_columns is not None
        columns = self._read_product_columns(firsts)
        count = len(keys)
        titles: list[Any] = keys
        if self._title_slot is not None:
            titles = self._text_column.parse_column(columns[self._title_slot])
            if None in titles:
                return None
        # description, vendor, product_type, status, handle, seo_title, seo_description, tags, images
        fields: list[list[Any]] = [[None] * count] * 7 + [[()] * count] * 2
        for position, _, slot in self._text_slots:
            fields[position] = self._text_column.parse_column(columns[slot])
        for position, _, slot, parser in self._product_parsers:
            fields[position] = parser.parse_column(columns[slot])
        metafields: list[tuple[MetafieldDraft, ...]] = [()] * count
        if self._product_metafields:
            drafts = [parser.parse_column(columns[slot]) for _, slot, parser in self._product_metafields]
            # Each product's drafts without the absent (None) ones; a MetafieldDraft is never falsy.
            metafields = list(map(tuple, map(filter, repeat(None), zip(*drafts, strict=True))))
        return [titles, *fields, metafields]

    def _build_variants(
        self, columns: Columns, first_row: int, count: int
    ) -> tuple[list[VariantDraft], list[str], list[str]] | None:
        """Every row's VariantDraft, SKU and product key; None if some row has a problem to explain."""
        skus = strip_column(columns[self._sku_slot])
        if not all(skus):
            return None
        keys = skus
        if self._key_slot is not None:
            keys = strip_column(columns[self._key_slot])
            if not all(keys):
                keys = [key or sku for key, sku in zip(keys, skus, strict=True)]
        # price, compare_at_price, barcode, inventory_quantity, weight_unit, taxable, image
        parsed: list[Iterable[Any]] = [repeat(None)] * 7
        for position, _, slot, parser in self._variant_fields:
            parsed[position] = parser.parse_column(columns[slot])
        if self._price_required and None in cast(list[Any], parsed[0]):
            return None
        weights: Iterable[str | None] = repeat(None)
        if self._weight_slot is not None:
            raw_weights = columns[self._weight_slot]
            if not self._decimal_comma and is_plain(PLAIN_DECIMAL, raw_weights):
                # Plain numbers, no unit beside them: parse_weight would return each as it is.
                weights = [weight or None for weight in raw_weights] if "" in raw_weights else raw_weights
            else:
                pairs = self._weight.parse_column(raw_weights)
                weights = [pair[0] if pair else None for pair in pairs]
                units = [pair[1] if pair else None for pair in pairs]
                if self._unit_mapped:
                    units = [given or unit for given, unit in zip(parsed[4], units, strict=True)]
                parsed[4] = units
        options: Iterable[tuple[str, ...]] = repeat(())
        if self._option_slots:
            parse_option = self._option_values.parse_column
            values = [parse_option(columns[slot]) for slot in self._option_slots]
            options = self._batch_options = list(zip(*values, strict=True))
            # For `_settle`: a missing option value anywhere sends the batch's runs one by one.
            self._batch_options_missing = any("" in column for column in values)
        metafields: Iterable[tuple[MetafieldDraft, ...]] = repeat(())
        if self._variant_metafields:
            drafts = [parser.parse_column(columns[slot]) for _, slot, parser in self._variant_metafields]
            metafields = list(map(tuple, map(filter, repeat(None), zip(*drafts, strict=True))))
        price, compare_at, barcode, quantity, weight_unit, taxable, image = parsed
        # Unmapped fields are endless repeats, so the zip ends with the rows.
        fields = zip(
            skus, price, compare_at, barcode, quantity, weights, weight_unit, options, taxable, image,
            metafields, range(first_row, first_row + count), strict=False,
        )  # fmt: skip
        variants = cast(list[VariantDraft], list(map(_new_tuple, repeat(VariantDraft), fields)))
        return variants, cast(list[str], skus), cast(list[str], keys)

    def _group_variants(
        self,
        batch: RecordBatch,
        variants: list[VariantDraft],
        skus: list[str],
        keys: list[str],
        *,
        starts: list[int],
        continues: bool,
        products: list[list[Any]],
    ) -> None:
        """Hand each run of rows sharing a key to its product, with errors in the row path's order."""
        first_row, count = batch.first_row, len(batch.records)
        self._rows += count
        ends = [*starts[1:], count]
        sizes = list(map(sub, ends, starts))
        group = self._group
        sku_repeats, key_repeats = self._index_runs(first_row, skus, keys, starts, sizes, continues=continues)
        pending = iter(sku_repeats)
        next_repeat = next(pending, None)
        fields = list(zip(*products, strict=True))
        # Runs before `last` are whole: all of them when the batch ends where a product does (the
        # rows after it were held back), else all but the last run, which the next batch may continue.
        last = len(starts) if self._ends_whole else len(starts) - 1
        # The whole runs after a first one continuing the open product are usually clean products:
        # emitted together (index -1).
        runs: Iterable[int] = range(len(starts))
        if (
            continues < last
            and not sku_repeats
            and not key_repeats
            and self._settle([*starts[continues:last], ends[last - 1]], sizes[continues:last])
        ):
            runs = [*range(continues), -1, *range(last, len(starts))]
        for index in runs:
            if index < 0:
                if group is not None:
                    self._close(group)
                    group = self._group = None
                self._emit_runs(keys, variants, starts[continues:last], sizes[continues:last], products)
                continue
            start, end = starts[index], ends[index]
            row = first_row + start
            if group is None or index or not continues:
                product_fields = fields[index - continues]
                if (
                    index < last
                    and (next_repeat is None or next_repeat[0] >= end)
                    and start not in key_repeats
                    and (product := self._whole_product(keys[start], variants[start:end], product_fields))
                ):
                    # A product that starts and ends inside this batch with nothing wrong: emitted
                    # at once, without the bookkeeping an open product needs.
                    if group is not None:
                        self._close(group)
                        group = self._group = None
                    self._emit(product, end - start)
                    continue
                if group is not None:
                    self._close(group)
                group = self._group = self._start(keys[start], row, skus[start], (), product_fields)
                if (seen := key_repeats.get(start)) is not None:
                    self._repeated_key(group, row, skus[start], *seen)
            group.count += end - start
            group.skus.update(skus[start:end])
            kept = variants[start:end]
            if next_repeat is not None and next_repeat[0] < end:
                dropped = set()
                while next_repeat is not None and next_repeat[0] < end:
                    offset, seen_row, seen_ordinal = next_repeat
                    self._repeated_sku(group, first_row + offset, skus[offset], seen_row, seen_ordinal)
                    dropped.add(offset - start)
                    next_repeat = next(pending, None)
                kept = [variant for index, variant in enumerate(kept) if index not in dropped]
            held = group.variants
            if len(held) <= MAX_VARIANTS:
                held.extend(kept)
                del held[MAX_VARIANTS + 1 :]

    def _index_runs(
        self,
        first_row: int,
        skus: list[str],
        keys: list[str],
        starts: list[int],
        sizes: list[int],
        *,
        continues: bool,
    ) -> tuple[list[tuple[int, int, int]], dict[int, tuple[int, int]]]:
        """Record the batch's SKUs and the keys of the products it opens; return the repeats found:
        (offset, first row, first ordinal) of SKUs, and (first row, first ordinal) by offset of keys."""
        # Every run opens a product, except a first one continuing the product open from the last batch.
        next_ordinal = len(self._ordinal_keys) - continues
        ordinals = list(range(next_ordinal, next_ordinal + len(starts)))
        if self._group is not None and continues:
            ordinals[0] = self._group.ordinal
        sku_repeats = self._skus.add_many(
            skus,
            range(first_row, first_row + len(skus)),
            list(chain.from_iterable(map(repeat, ordinals, sizes))),
        )
        opening = starts[continues:]
        key_repeats: dict[int, tuple[int, int]] = {}
        if self._keys is not None and opening:
            found = self._keys.add_many(
                [keys[start] for start in opening],
                [first_row + start for start in opening],
                ordinals[continues:],
            )
            key_repeats = {opening[index]: (row, ordinal) for index, row, ordinal in found}
        return sku_repeats, key_repeats

    def _settle(self, bounds: list[int], sizes: list[int]) -> bool:
        """Whether `_whole_product` keeps every run (rows `bounds[i]` to `bounds[i + 1]`) as it is: no
        more variants than Shopify allows, every option value present, no two variants of a run alike."""
        if max(sizes) > MAX_VARIANTS:
            return False
        if not self._option_slots:
            return max(sizes) == 1
        # The option tuples `_build_variants` just zipped into these variants, in the same order.
        options = self._batch_options
        if self._batch_options_missing:
            return False
        runs = map(slice, bounds[:-1], bounds[1:])
        return all(map(eq, map(len, map(set, map(options.__getitem__, runs))), sizes))

    def _emit_runs(
        self,
        keys: list[str],
        variants: list[VariantDraft],
        starts: list[int],
        sizes: list[int],
        products: list[list[Any]],
    ) -> None:
        """Emit whole, clean runs of rows as products at once, as `_whole_product` and `_emit` would."""
        count = len(starts)
        product_keys = list(map(keys.__getitem__, starts))
        groups = list(map(tuple, map(variants.__getitem__, map(slice, starts, map(add, starts, sizes)))))
        columns = [column[:count] for column in products]
        *fields, metafields = columns
        self._ready.extend(
            product_drafts([product_keys, *fields, [self._option_names] * count, groups, metafields])
        )
        self._ordinal_keys.extend(product_keys)
        self._ordinal_rows.extend(sizes)
        rows = sum(sizes)
        self._mapped_rows += rows
        self._products += count
        self._variants += rows

    # -- one row -------------------------------------------------------------------------------

    def _map_row(self, row: int, values: tuple[Any, ...]) -> None:
        self._rows += 1
        raw_sku = values[self._sku_slot]
        sku = raw_sku.strip() if raw_sku.__class__ is str else safe_text(raw_sku)
        key = sku
        if self._key_slot is not None:
            raw_key = values[self._key_slot]
            key = (raw_key.strip() if raw_key.__class__ is str else safe_text(raw_key)) or sku
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
        group.skus.add(sku)
        seen = self._skus.add(sku, row, group.ordinal)
        if seen is not None:
            self._repeated_sku(group, row, sku, *seen)
            return
        variant = self._variant(row, sku, values, group)
        if variant is not None and len(group.variants) <= MAX_VARIANTS:
            group.variants.append(variant)

    def _repeated_sku(self, group: _Group, row: int, sku: str, first_row: int, first_ordinal: int) -> None:
        """Both rows of a repeated SKU are errors; an earlier product holding it is withdrawn."""
        self._reject(group, first_row, sku, "variant.sku", f"SKU {sku!r} appears again at row {row}")
        self._reject(group, row, sku, "variant.sku", f"SKU {sku!r} already appears at row {first_row}")
        if first_ordinal != group.ordinal:
            self._reject_emitted(first_ordinal)

    def _variant(self, row: int, sku: str, values: tuple[Any, ...], group: _Group) -> VariantDraft | None:
        # price, compare_at_price, barcode, inventory_quantity, weight_unit, taxable, image
        parsed: list[Any] = [None] * 7
        ok = True
        for position, target, slot, parser in self._variant_fields:
            raw = values[slot]
            if raw is None or raw == "":
                continue
            try:
                parsed[position] = parser.parse(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, target, str(problem))
        if self._price_required and parsed[0] is None and ok:
            ok = self._reject(group, row, sku, "variant.price", "is empty")
        weight = unit = None
        if self._weight_slot is not None and (raw := values[self._weight_slot]) is not None and raw != "":
            try:
                weight, unit = self._weight.parse(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, "variant.weight", str(problem))
        metafields = self._metafields(self._variant_metafields, values, row, sku, group)
        if not ok or metafields is None:
            return None
        option_values = tuple([self._option_values.parse(values[slot]) for slot in self._option_slots])
        price, compare_at, barcode, quantity, weight_unit, taxable, image = parsed
        return VariantDraft(
            sku, price, compare_at, barcode, quantity, weight, weight_unit or unit, option_values, taxable, image,
            metafields, row,
        )  # fmt: skip

    def _metafields(
        self,
        mappings: list[tuple[MetafieldMapping, int, MemoTable]],
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
                drafts.append(parser.parse(raw))
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, f"metafield {item.namespace}.{item.key}", str(problem))
        return tuple(drafts) if ok else None

    # -- one product ---------------------------------------------------------------------------

    def _open(self, key: str, row: int, sku: str | None, values: tuple[Any, ...]) -> _Group:
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
    ) -> _Group:
        ordinal = len(self._ordinal_keys)
        self._ordinal_keys.append(key)
        self._ordinal_rows.append(0)
        return _Group(key, ordinal, row, sku, values, fields=fields)

    def _repeated_key(
        self, group: _Group, row: int, sku: str | None, first_row: int, first_ordinal: int
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
        settled = self._settled_options(variants)
        if settled is None:
            return None
        options, variants = settled
        return _draft(key, fields, options, variants)

    def _emit(self, product: ProductDraft, rows: int) -> None:
        """Count and hand on a product that was complete and clean as soon as it was read."""
        self._ordinal_keys.append(product.key)
        self._ordinal_rows.append(rows)
        self._mapped_rows += rows
        self._products += 1
        self._variants += rows
        self._ready.append(product)

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
        parsed = group.fields if group.fields is not None else self._parse_product(group)
        if parsed is None or group.rejected:
            return None
        return _draft(group.key, parsed, options, variants)

    def _parse_product(self, group: _Group) -> tuple[Any, ...] | None:
        """The row path's product fields from the first row, every problem reported; None if any."""
        values = group.values
        row, sku = group.first_row, group.first_sku
        # description, vendor, product_type, status, handle, seo_title, seo_description, tags, images
        fields: list[Any] = [None, None, None, None, None, None, None, (), ()]
        for position, target, slot in self._text_slots:
            raw = values[slot]
            if raw.__class__ is str:
                fields[position] = raw.strip() or None
                continue
            try:
                fields[position] = to_text(raw)
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
        for position, target, slot, parser in self._product_parsers:
            raw = values[slot]
            if raw is None or raw == "":
                continue
            try:
                fields[position] = parser.parse(raw)
            except ValueProblem as problem:
                self._reject(group, row, sku, target, str(problem))
        metafields = self._metafields(self._product_metafields, values, row, sku, group)
        if group.rejected or metafields is None or title is None:
            return None
        return (title, *fields, metafields)

    def _settled_options(
        self, variants: list[VariantDraft]
    ) -> tuple[tuple[str, ...], list[VariantDraft]] | None:
        """Option names and variants if every variant has a distinct, complete set of option values."""
        names = self._option_names
        if len(variants) == 1:
            # A lone variant keeps only the options it has a value for.
            only = variants[0]
            kept = [index for index, value in enumerate(only.option_values) if value]
            if len(kept) == len(names):
                return names, variants
            values = tuple(only.option_values[index] for index in kept)
            return tuple(names[index] for index in kept), [only._replace(option_values=values)]
        combinations = list(map(_option_values_of, variants))
        if names and all(map(all, combinations)) and len(set(combinations)) == len(combinations):
            return names, variants
        return None

    def _check_options(self, group: _Group) -> tuple[tuple[str, ...], list[VariantDraft]]:
        """Option names for the product; every variant needs a distinct combination of values."""
        settled = self._settled_options(group.variants)
        if settled is not None:
            return settled
        variants = group.variants
        names = self._option_names
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


def _draft(
    key: str, fields: tuple[Any, ...], options: tuple[str, ...], variants: list[VariantDraft]
) -> ProductDraft:
    """The draft from `fields` as both paths give them: title, the _PRODUCT_FIELDS, metafields."""
    return ProductDraft(
        key, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8],
        fields[9], options, tuple(variants), fields[10],
    )  # fmt: skip


def clean_text_or_empty(value: Any) -> str:
    """An option value: trimmed text, "" when absent or not text."""
    if value.__class__ is str:
        return value.strip()
    return safe_text(value) or ""


def _one_url(value: Any) -> str:
    urls = split_urls(value)
    if len(urls) != 1:
        raise ValueProblem("must be one http(s) URL")
    return urls[0]


def _option_name(path: str) -> str:
    name = path.rsplit(".", 1)[-1].lstrip("@")
    return name[:1].upper() + name[1:]


__all__ = ["FeedMapper", "MapOutcome", "RowError", "map_records"]
