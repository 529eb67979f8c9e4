"""Children that name their parent (WooCommerce's `Parent`), joined to it by one sort on disk.

A child's `grouping.parent` field holds the parent's SKU, or `id:123` for a parent without a SKU,
whose `ID` field `grouping.parent_id` names. Every row becomes one sort item (items.py) whose head
is the parent reference it belongs under, a kind digit (0 the parent, 1 a child) and its row, so
the sort brings each parent before its children, whichever came first in the feed. A parent's
product cells are then copied onto its first child and the parent row dropped (a parent is never a
variant); a parent without children is a simple product; a child whose parent is not in the feed
is rejected with "parent 'X' is not in the feed". Each record's first cell, its head, is
overwritten with its product's key (`KEY_FIELD`): the parent's product_key cell, else its SKU.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress, repeat
from operator import not_
from typing import Any

from erpsync.feeds.records import CellProblem, RecordBatch
from erpsync.mapping.grouping import (
    BATCH_RECORDS,
    KEY_FIELD,
    Getter,
    ProductCells,
    adjacent,
    field_getter,
    key_getter,
    text,
)
from erpsync.mapping.items import END, ROW_DIGITS, Decoded, encode, escaped, slices, unescaped
from erpsync.mapping.sorting import ExternalSorter
from erpsync.models import SyncConfig

# A head's characters after END: the kind digit and the row.
_TAIL = 1 + ROW_DIGITS
_GROUP_END = -(len(END) + _TAIL)
_HEAD = "{}" + END + "{:d}"
ORPHAN = "parent {!r} is not in the feed"


class ParentLinkStage:
    """Children name their parent in `grouping.parent`; one sort by the parent's reference."""

    def __init__(self, config: SyncConfig, *, feed: str, sorter: ExternalSorter) -> None:
        self.config = adjacent(config, product_key=KEY_FIELD)
        self._source = config
        self._feed = feed
        self._sorter = sorter
        self._bound = False
        self._packed = True

    def _bind(self, columns: tuple[str, ...] | None) -> None:
        config, feed = self._source, self._feed
        assert config.grouping.parent is not None
        self._bound = True
        self._columns = None if columns is None else (KEY_FIELD, *columns)
        self._reference = field_getter(config.grouping.parent, columns, feed=feed)
        sku = field_getter(config.mapping["variant.sku"], columns, feed=feed)
        ident = (
            field_getter(config.grouping.parent_id, columns, feed=feed) if config.grouping.parent_id else None
        )
        self._ident = ident

        def name(record: Any) -> str:
            """How children name this parent, as WooCommerce's exporter writes it: its SKU, or
            `id:` and its `parent_id` field for a parent without a SKU."""
            own = text(sku(record))
            if own or ident is None:
                return own
            return "id:" + text(ident(record))

        self._name = name
        # After the sort a CSV row has its head in front: the getters below read that layout.
        self._own_key: Getter = key_getter(config, self._columns, feed=feed)
        self._cells = ProductCells(config, self._columns)

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]:
        if not self._bound:
            self._bind(batch.columns)
        items, packed = encode(self._heads(batch.records), batch)
        self._packed = self._packed and packed
        self._sorter.add(items, self._sorter.size_of(items))
        return iter(())

    def _heads(self, records: list[Any]) -> list[str]:
        """Each record's head before its row: the reference it groups under and its kind."""
        refs = list(map(self._reference, records))
        try:
            refs = list(map(str.strip, refs))
        except TypeError:
            refs = list(map(text, refs))
        children = list(map(bool, refs))
        for index in compress(range(len(refs)), map(not_, children)):
            refs[index] = self._name(records[index])
        if self._ident is not None:
            for index in compress(range(len(refs)), children):
                if refs[index][:3].lower() == "id:":
                    refs[index] = "id:" + refs[index][3:].strip()
        return list(map(_HEAD.format, escaped(refs), children))

    def finish(self) -> Iterator[RecordBatch]:
        if not self._bound:
            return iter(())
        return self._regrouped()

    def _regrouped(self) -> Iterator[RecordBatch]:
        """The sorted items as adjacent products: a group's parent first, then its children."""
        feed_rows: int | None = self._sorter.items
        current: str | None = None
        # The group's parent while it has no child yet: (record, row, line, flagged).
        parent: tuple[Any, int, int | None, bool] | None = None
        key: Any = None
        for chunk in slices(self._sorter.sorted(), BATCH_RECORDS):
            found = Decoded(chunk, packed=self._packed, head_tail=_TAIL)
            lines = found.lines or repeat(None)
            records: list[Any] = []
            rows: list[int] = []
            placed_lines: list[Any] = []
            problems = found.problems
            for head, row, line, record in zip(found.heads, found.rows, lines, found.records, strict=False):
                group = head[:_GROUP_END]
                if group != current:
                    if parent is not None:
                        self._keyed(parent[0], self._own_key(parent[0]))
                        records.append(parent[0])
                        rows.append(parent[1])
                        placed_lines.append(parent[2])
                        problems = problems or parent[3]
                    current, parent, key = group, None, None
                    if head[-_TAIL] == "0":
                        parent = (record, row, line, found.problems)
                        continue
                if head[-_TAIL] == "0":
                    # A second parent under one reference (a repeated SKU): a product of its own.
                    self._keyed(record, self._own_key(record))
                elif key is not None:
                    self._keyed(record, key)
                elif parent is not None:
                    self._cells.copy(parent[0], record)
                    key = self._own_key(parent[0])
                    problems = problems or parent[3]
                    self._keyed(record, key)
                    parent = None
                else:
                    self._keyed(record, CellProblem(ORPHAN.format(unescaped(group))))
                    problems = True
                records.append(record)
                rows.append(row)
                placed_lines.append(line)
            if records:
                yield RecordBatch(
                    self._columns, rows[0], records, feed_rows, rows,
                    placed_lines if any(placed_lines) else None, problems,
                )  # fmt: skip
                feed_rows = None
        if parent is not None:
            self._keyed(parent[0], self._own_key(parent[0]))
            yield RecordBatch(
                self._columns, parent[1], [parent[0]], feed_rows, [parent[1]],
                None if parent[2] is None else [parent[2]], parent[3],
            )  # fmt: skip

    def _keyed(self, record: Any, key: Any) -> None:
        if self._columns is not None:
            record[0] = key
        elif record.__class__ is dict:
            record[KEY_FIELD] = key

    def close(self) -> None:
        self._sorter.close()


__all__ = ["ParentLinkStage"]
