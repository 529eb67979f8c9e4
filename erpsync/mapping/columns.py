"""The batch path of the mapper: a whole batch mapped column by column.

Per-row Python was the measured bottleneck (issue 5): each field is parsed for the whole batch in
C-level passes (a column already in normal form, such as "19.90" prices, is taken as it is; others go
through memo tables), variants are built straight from the columns, products are cut where the key
changes and emitted at once when complete and clean. Any value that does not parse sends the whole
batch, untouched, through the row path (rows.py), which is the one that explains errors; both give
the same drafts, hashes and errors (tests/feeds/test_mapping_batches.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, compress, repeat
from operator import add, eq, ne, sub
from typing import Any, cast

from erpsync.feeds.records import RecordBatch
from erpsync.mapping.drafts import MetafieldDraft, VariantDraft, product_drafts
from erpsync.mapping.options import product_names
from erpsync.mapping.state import IMAGES_FIELD, MAX_VARIANTS, Columns, Group, MapperState
from erpsync.mapping.values import PLAIN_DECIMAL, ValueProblem, is_plain, strip_column

_new_tuple = tuple.__new__


def _has_unit(weight: str | None, unit: str | None) -> bool:
    return weight is None or bool(unit)


class ColumnPath(MapperState):
    """Maps a batch a column at a time, or declines (returns False) for the row path to explain it."""

    def _map_columns(self, batch: RecordBatch) -> bool:
        """Map the batch column by column; False, with nothing changed, if it needs the row path."""
        records = batch.records
        if batch.problems or (batch.columns is None and not all(map(isinstance, records, repeat(dict)))):
            return False
        assert self._read_columns is not None  # set by _bind
        try:
            columns = self._read_columns(records)
            if self._unseen:
                self._see(columns)
            built = self._build_variants(columns, self._numbers)
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
            images = self._row_images(columns)
        except ValueProblem:
            return False
        if products is None:
            return False
        self._group_variants(
            variants, skus, keys, starts=starts, continues=continues, products=products, images=images
        )
        return True

    def _see(self, columns: Columns) -> None:
        """Strike off the mapped paths this batch has a value for (see `MapOutcome.missing_paths`)."""
        for slot in [slot for slot in self._unseen if slot in columns]:
            if any(value is not None for value in columns[slot]):
                self._unseen.discard(slot)

    def _row_images(self, columns: Columns) -> list[tuple[str, ...]] | None:
        """Every row's images, when images are mapped: a product's gallery gathers them all."""
        if self._images_slot is None:
            return None
        return cast(list[tuple[str, ...]], self._images_parser.parse_column(columns[self._images_slot]))

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
        if self._unseen:
            self._see(columns)
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
        names: list[tuple[str, ...]] = [self._option_names] * count
        if self._name_slots:
            given = list(zip(*(columns[slot] for _, slot in self._name_slots), strict=True))
            names = [product_names(self._option_names, list(row)) for row in given]
        return [titles, *fields, metafields, names]

    def _build_variants(
        self, columns: Columns, numbers: Sequence[int]
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
            weight_units = self._weight_units(cast(list[Any], weights), parsed[4], len(skus))
            if weight_units is None:
                return None
            parsed[4] = weight_units
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
            metafields, numbers, strict=False,
        )  # fmt: skip
        variants = cast(list[VariantDraft], list(map(_new_tuple, repeat(VariantDraft), fields)))
        return variants, cast(list[str], skus), cast(list[str], keys)

    def _weight_units(
        self, weights: list[str | None], units: Iterable[str | None], count: int
    ) -> Iterable[str | None] | None:
        """Each weight's unit: its own, else the config's default; None if a weight has neither (the
        row path names it: a unit-less weight never silently becomes kilograms)."""
        given = units if isinstance(units, list) else [None] * count
        if all(map(_has_unit, weights, given)):
            return units
        default = self._default_unit
        if default is None:
            return None
        return [
            unit or (None if weight is None else default) for weight, unit in zip(weights, given, strict=True)
        ]

    def _group_variants(
        self,
        variants: list[VariantDraft],
        skus: list[str],
        keys: list[str],
        *,
        starts: list[int],
        continues: bool,
        products: list[list[Any]],
        images: list[tuple[str, ...]] | None,
    ) -> None:
        """Hand each run of rows sharing a key to its product, with errors in the row path's order."""
        numbers, count = self._numbers, len(variants)
        self._rows += count
        ends = [*starts[1:], count]
        sizes = list(map(sub, ends, starts))
        group = self._group
        if images is not None:
            self._gather_images(images, starts, ends, continues=continues, products=products)
        sku_repeats, key_repeats = self._index_runs(numbers, skus, keys, starts, sizes, continues=continues)
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
            row = numbers[start]
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
                kept, next_repeat = self._drop_repeats(
                    group, kept, skus, start=start, end=end, next_repeat=next_repeat, pending=pending
                )
            held = group.variants
            if len(held) <= MAX_VARIANTS:
                held.extend(kept)
                del held[MAX_VARIANTS + 1 :]

    def _drop_repeats(
        self,
        group: Group,
        kept: list[VariantDraft],
        skus: list[str],
        *,
        start: int,
        end: int,
        next_repeat: tuple[int, int, int] | None,
        pending: Iterator[tuple[int, int, int]],
    ) -> tuple[list[VariantDraft], tuple[int, int, int] | None]:
        """The run's variants without those whose SKU repeats an earlier row's; each repeat reported."""
        dropped = set()
        while next_repeat is not None and next_repeat[0] < end:
            offset, seen_row, seen_ordinal = next_repeat
            self._repeated_sku(group, self._numbers[offset], skus[offset], seen_row, seen_ordinal)
            dropped.add(offset - start)
            next_repeat = next(pending, None)
        return [variant for index, variant in enumerate(kept) if index not in dropped], next_repeat

    def _gather_images(
        self,
        images: list[tuple[str, ...]],
        starts: list[int],
        ends: list[int],
        *,
        continues: bool,
        products: list[list[Any]],
    ) -> None:
        """A product's gallery: the images of all its rows, in order, each once (Shopify's CSV gives
        one image per row). The open product continued here keeps its rows' images for later."""
        if continues and self._group is not None:
            self._group.images.extend(chain.from_iterable(images[: ends[0]]))
        gallery = products[IMAGES_FIELD]
        for index in range(continues, len(starts)):
            start, end = starts[index], ends[index]
            if end - start > 1:
                gallery[index - continues] = tuple(dict.fromkeys(chain.from_iterable(images[start:end])))

    def _index_runs(
        self,
        numbers: Sequence[int],
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
            numbers,
            list(chain.from_iterable(map(repeat, ordinals, sizes))),
        )
        opening = starts[continues:]
        key_repeats: dict[int, tuple[int, int]] = {}
        if self._keys is not None and opening:
            found = self._keys.add_many(
                [keys[start] for start in opening],
                [numbers[start] for start in opening],
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
        if self._name_slots:
            # Option names read per product may be Shopify's "Title": each product checked alone.
            return False
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
        *fields, metafields, names = columns
        self._ready.extend(product_drafts([product_keys, *fields, names, groups, metafields]))
        self._ordinal_keys.extend(product_keys)
        self._ordinal_rows.extend(sizes)
        rows = sum(sizes)
        self._mapped_rows += rows
        self._products += count
        self._variants += rows
