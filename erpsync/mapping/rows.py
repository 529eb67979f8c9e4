"""The row path of the mapper: one row at a time, every bad value pinpointed.

Slower than the batch path (columns.py), and taken only for a batch that path declined: the one
that explains each problem, with its row, SKU and field. Rows without a SKU that carry only images
(Shopify's product CSV writes one per extra image) add to their product's gallery.
"""

from __future__ import annotations

from typing import Any

from erpsync.feeds.records import CellProblem
from erpsync.mapping.drafts import MetafieldDraft, VariantDraft
from erpsync.mapping.options import product_names
from erpsync.mapping.state import MAX_VARIANTS, NO_WEIGHT_UNIT, Group, MapperState
from erpsync.mapping.values import MemoTable, ValueProblem, safe_text, to_text
from erpsync.models import MetafieldMapping


class RowPath(MapperState):
    """Maps one row: its product's first row opens it, the others add variants or images."""

    def _map_row(self, row: int, values: tuple[Any, ...]) -> None:
        self._rows += 1
        if self._unseen:
            self._unseen.difference_update([slot for slot in self._unseen if values[slot] is not None])
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
        elif self._images_slot is not None:
            self._more_images(group, row, sku, values[self._images_slot])
        group.count += 1
        if CellProblem in map(type, values):
            self._cell_problems(group, row, sku or None, values)
            return
        if not sku:
            if not self._image_row(group, row, values):
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

    def _cell_problems(self, group: Group, row: int, sku: str | None, values: tuple[Any, ...]) -> None:
        """A cell the parser could not read (too long, say) rejects its row's product, naming the field."""
        for slot, value in enumerate(values):
            if value.__class__ is CellProblem:
                self._reject(group, row, sku, self._targets.get(slot, self._sources[slot]), value.message)

    def _image_row(self, group: Group, row: int, values: tuple[Any, ...]) -> bool:
        """A row with no SKU and nothing but images (and its product key): its images join the gallery."""
        image_slots = [slot for slot in (self._images_slot, self._variant_image_slot) if slot is not None]
        if not image_slots or all(values[slot] in (None, "") for slot in image_slots):
            return False
        for slot in self._variant_value_slots:
            if slot not in image_slots and values[slot] not in (None, ""):
                return False
        if self._variant_image_slot is not None:
            self._more_images(group, row, None, values[self._variant_image_slot])
        return True

    def _more_images(self, group: Group, row: int, sku: str | None, raw: Any) -> None:
        """The images of a product's later row, kept in order for its gallery."""
        if raw is None or raw == "" or raw.__class__ is CellProblem:
            return
        try:
            group.images.extend(self._images_parser.parse(raw))
        except ValueProblem as problem:
            self._reject(group, row, sku, "images", str(problem))

    def _variant(self, row: int, sku: str, values: tuple[Any, ...], group: Group) -> VariantDraft | None:
        # price, compare_at_price, barcode, inventory_quantity, weight_unit, taxable, image
        parsed: list[Any] = [None] * 7
        ok = self._parse_fields(parsed, self._variant_fields, values, row, sku, group)
        if self._price_required and parsed[0] is None and ok:
            ok = self._reject(group, row, sku, "variant.price", "is empty")
        weight = unit = None
        if self._weight_slot is not None and (raw := values[self._weight_slot]) is not None and raw != "":
            try:
                weight, unit = self._weight.parse(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, "variant.weight", str(problem))
            unit = parsed[4] or unit or self._default_unit
            if weight is not None and unit is None:
                ok = self._reject(group, row, sku, "variant.weight", NO_WEIGHT_UNIT)
        metafields = self._metafields(self._variant_metafields, values, row, sku, group)
        if not ok or metafields is None:
            return None
        option_values = tuple([self._option_values.parse(values[slot]) for slot in self._option_slots])
        price, compare_at, barcode, quantity, weight_unit, taxable, image = parsed
        return VariantDraft(
            sku, price, compare_at, barcode, quantity, weight, unit or weight_unit, option_values, taxable, image,
            metafields, row,
        )  # fmt: skip

    def _parse_fields(  # noqa: PLR0917 - the row's context, as every row-path method takes it
        self,
        into: list[Any],
        parsers: list[tuple[int, str, int, Any]],
        values: tuple[Any, ...],
        row: int,
        sku: str | None,
        group: Group,
    ) -> bool:
        """Parse the row's non-empty cells into `into` by position; False if one was rejected."""
        ok = True
        for position, target, slot, parser in parsers:
            raw = values[slot]
            if raw is None or raw == "":
                continue
            try:
                into[position] = parser.parse(raw)
            except ValueProblem as problem:
                ok = self._reject(group, row, sku, target, str(problem))
        return ok

    def _metafields(
        self,
        mappings: list[tuple[MetafieldMapping, int, MemoTable]],
        values: tuple[Any, ...],
        row: int,
        sku: str | None,
        group: Group,
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

    def _parse_product(self, group: Group) -> tuple[Any, ...] | None:
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
        self._parse_fields(fields, self._product_parsers, values, row, sku, group)
        metafields = self._metafields(self._product_metafields, values, row, sku, group)
        if group.rejected or metafields is None or title is None:
            return None
        names = self._option_names
        if self._name_slots:
            names = product_names(names, [values[slot] for _, slot in self._name_slots])
        return (title, *fields, metafields, names)


def _blank(value: Any) -> bool:
    """No value: absent or an empty string (a JSON list or object is a value, and unhashable)."""
    return value is None or (value.__class__ is str and not value)
