"""A parent that lists its children (Magento), joined to them on disk so memory stays flat.

The listing is Magento's `configurable_variations`, `sku=MH01-XS-Black,size=XS,color=Black|...`, or
plain SKUs. A first sort by child SKU joins each listing entry to its child row, a second by product
key groups them; a parent's product cells are copied onto its first child and the parent row is
dropped (a parent is never a variant: its own price is ignored); a parent without children is a
simple product; a child no parent lists is a product of its own. Every record carries its product's
key in `KEY_FIELD`, the parent's key (its product_key cell, else its SKU), stable across runs. The
listing's attributes are fields of the child named `<children field>.<attribute>`, for use as
option values. Children that name their parent instead are parent_link.py's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import groupby, repeat
from typing import Any

from erpsync.feeds.records import RecordBatch
from erpsync.mapping.grouping import (
    KEY_FIELD,
    Getter,
    Placed,
    ProductCells,
    adjacent,
    batches,
    field_getter,
    key_getter,
    text,
    unpack,
)
from erpsync.mapping.items import pack, placed
from erpsync.mapping.sorting import ExternalSorter
from erpsync.models import SyncConfig

PARENT, CHILD = 0, 1
ENTRY_BYTES = 96
# A sort key is the group's name, NUL, then what orders its members (kind, and row where needed).
_KINDS = ("\x000", "\x001")


def _group_of(item: tuple[Any, ...]) -> str:
    return item[0].rpartition("\x00")[0]  # type: ignore[no-any-return]


_PLAIN_LIST = re.compile(r"[|,]")


class _Shaper:
    """Writes a product's key (and a child's listing attributes) into a record, and copies a parent's
    product cells onto its first child."""

    def __init__(self, config: SyncConfig, columns: tuple[str, ...] | None, extra: list[str]) -> None:
        self.columns = None if columns is None else (*columns, KEY_FIELD, *extra)
        self._width = 0 if columns is None else len(columns)
        self._extra = extra
        self.copy_product = ProductCells(config, columns).copy

    def shape(self, record: Any, key: Any, attrs: tuple[str, ...] | None) -> Any:
        values = attrs if attrs is not None else ("",) * len(self._extra)
        if self.columns is not None:
            if len(record) < self._width:
                record.extend([""] * (self._width - len(record)))
            elif len(record) > self._width:
                del record[self._width :]
            record.append(key)
            record.extend(values)
        elif record.__class__ is dict:
            record[KEY_FIELD] = key
            record.update(zip(self._extra, values, strict=True))
        return record


def _groups(items: Iterator[tuple[Any, ...]], shaper: _Shaper, own_key: Getter) -> Iterator[Placed]:
    """Items (group, kind, row, line, record, attrs, flag) sorted: each group's parent, then its
    children; a child without a parent is a product of its own."""
    for group, members in groupby(items, _group_of):
        parent: Any = None
        children = False
        for _, kind, row, line, packed, attrs, flagged in members:
            record = unpack(packed)
            if kind == PARENT and parent is None and not children:
                parent, parent_place = record, (row, line, flagged)
                continue
            if kind == PARENT:
                # A second parent under one reference (a repeated SKU): a product of its own.
                yield row, line, shaper.shape(record, own_key(record), None), flagged
                continue
            if parent is None:
                yield row, line, shaper.shape(record, group, attrs), flagged
                continue
            if not children:
                shaper.copy_product(parent, record)
                children = True
                key = own_key(parent)
                yield row, line, shaper.shape(record, key, attrs), flagged or parent_place[2]
                continue
            yield row, line, shaper.shape(record, key, attrs), flagged
        if parent is not None and not children:
            row, line, flagged = parent_place
            yield row, line, shaper.shape(parent, own_key(parent), None), flagged


class ListedChildrenStage:
    """A parent lists its children in `grouping.children`: joined by child SKU, then grouped by key."""

    def __init__(
        self, config: SyncConfig, *, feed: str, sorter: ExternalSorter, second: ExternalSorter
    ) -> None:
        self.config = adjacent(config, product_key=KEY_FIELD)
        self._source = config
        self._feed = feed
        self._sorter = sorter
        self._second = second
        children = config.grouping.children
        assert children is not None
        prefix = f"{children}."
        self._attributes = sorted(
            {path[len(prefix) :] for path in _config_paths(config) if path.startswith(prefix)}
        )
        self._extra = [prefix + name for name in self._attributes]
        self._shaper: _Shaper | None = None
        self._bytes = self._records = 0

    def _bind(self, columns: tuple[str, ...] | None) -> None:
        config, feed = self._source, self._feed
        assert config.grouping.children is not None
        self._shaper = _Shaper(config, columns, self._extra)
        self._key = key_getter(config, columns, feed=feed)
        self._sku = field_getter(config.mapping["variant.sku"], columns, feed=feed)
        self._listing = field_getter(config.grouping.children, columns, feed=feed)

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]:
        if self._shaper is None:
            self._bind(batch.columns)
        rows, lines = placed(batch)
        items: list[tuple[Any, ...]] = []
        packed = pack(batch.records, batch.columns)
        kept_records = batch.records if packed is None else packed
        for record, kept, row, line in zip(batch.records, kept_records, rows, lines, strict=False):
            listing = self._listing(record)
            if listing:
                key = self._key(record)
                for sku, attrs in self._entries(listing):
                    items.append((sku + _KINDS[PARENT], PARENT, row, None, key, attrs, False))
            items.append(
                (
                    text(self._sku(record)) + _KINDS[CHILD],
                    CHILD,
                    row,
                    line,
                    kept,
                    bool(listing),
                    batch.problems,
                )
            )
        size = self._sorter.size_of(batch.records)
        self._bytes += size
        self._records += len(batch.records)
        # Each listing entry is an item too: about ENTRY_BYTES spilled, several times that held.
        self._sorter.add(items, size + ENTRY_BYTES * (len(items) - len(batch.records)))
        return iter(())

    def _entries(self, listing: Any) -> list[tuple[str, tuple[str, ...]]]:
        """(child SKU, attribute values) of each entry a parent lists."""
        names = self._attributes
        if isinstance(listing, str) and "=" in listing:
            found: list[tuple[str, tuple[str, ...]]] = []
            for part in listing.split("|"):
                pairs = map(str.partition, part.split(","), repeat("="))
                entry = {name.strip(): value.strip() for name, _, value in pairs}
                if sku := entry.get("sku"):
                    found.append((sku, tuple([entry.get(name, "") for name in names])))
            return found
        if isinstance(listing, str):
            return [(sku, ("",) * len(names)) for part in _PLAIN_LIST.split(listing) if (sku := part.strip())]
        if not isinstance(listing, list):
            return []
        entries = [entry if isinstance(entry, dict) else {"sku": entry} for entry in listing]
        return [
            (sku, tuple(text(entry.get(name)) for name in names))
            for entry in entries
            if (sku := text(entry.get("sku")))
        ]

    def finish(self) -> Iterator[RecordBatch]:
        if self._shaper is None:
            return iter(())
        # Counted twice: the second sort's runs fill while the first's merge still holds its blocks.
        per_item = 2 * self._bytes // max(1, self._records)
        chunk: list[tuple[Any, ...]] = []
        for item in self._joined():
            chunk.append(item)
            if len(chunk) >= 4096:
                self._second.add(chunk, per_item * len(chunk))
                chunk = []
        self._second.add(chunk, per_item * len(chunk))
        self._sorter.close()
        records = _groups(self._second.sorted(), self._shaper, self._key)
        return batches(self._shaper.columns, records, feed_rows=self._second.items)

    def _joined(self) -> Iterator[tuple[Any, ...]]:
        """Rows by product key: a listed child under its parent's, any other row under its own."""
        for _, members in groupby(self._sorter.sorted(), _group_of):
            listed: tuple[Any, ...] | None = None
            for _, kind, row, line, payload, extra, flagged in members:
                if kind == PARENT:
                    listed = listed or (payload, extra)
                elif listed is not None and not extra:
                    yield f"{listed[0]}\x001{row:012}", CHILD, row, line, payload, listed[1], flagged
                else:
                    yield (
                        f"{self._key(unpack(payload))}\x000{row:012}",
                        PARENT,
                        row,
                        line,
                        payload,
                        None,
                        flagged,
                    )

    def close(self) -> None:
        self._sorter.close()
        self._second.close()


def _config_paths(config: SyncConfig) -> list[str]:
    """Every source path the config reads."""
    paths = list(config.mapping.values())
    for rule in config.rules.values():
        paths += [*([rule.path] if rule.path else []), *(rule.first or [])]
    paths += [item.source_key for item in config.metafield_mappings]
    return paths


__all__ = ["ListedChildrenStage"]
