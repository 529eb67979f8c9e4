"""Regrouping: every feed shape turned into the one the mapper reads, a product's rows adjacent.

The mapper is the one fast code path; this stage rewrites the other shapes into adjacent canonical
batches and the config the mapper must read them with. `anywhere` and `parent` sort on disk
(`sorting.ExternalSorter`), so memory stays flat however long the feed; `nested` flattens each
product record at once. Every output record keeps its row number (and file line), so an error still
names the merchant's row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice, repeat
from operator import add
from pathlib import Path
from typing import Any, Protocol

from erpsync.feed_config import Grouping
from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import RecordBatch
from erpsync.mapping.extract import path_getter
from erpsync.mapping.items import END, ROW_DIGITS, SEPARATOR, Decoded, encode, escaped, slices
from erpsync.mapping.sorting import ExternalSorter
from erpsync.mapping.values import safe_text
from erpsync.models import VARIANT_TARGETS, SyncConfig

# Records per output batch: the size parsers hand the mapper.
BATCH_RECORDS = 256
# The field the regrouped records carry their product's key in (a CSV column, a dict key).
KEY_FIELD = "_erpsync_key"
# The first column of a regrouped CSV row: its sort item's head, which the mapper does not read.
HEAD_FIELD = "_erpsync_head"

Getter = Callable[[Any], Any]
BatchGetter = Callable[[list[Any]], list[str]]
# A record with where it came from and whether it may hold a CellProblem: (row, line or None, record, flag).
Placed = tuple[int, int | None, Any, bool]


class GroupingStage(Protocol):
    """One mode's regrouping, as `Regrouper` drives it."""

    config: SyncConfig

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]: ...

    def finish(self) -> Iterator[RecordBatch]: ...

    def close(self) -> None: ...


class Regrouper:
    """Batches of any grouping mode in, adjacent canonical batches out; `config` is what to map them with."""

    def __init__(
        self, config: SyncConfig, *, feed: str, work_dir: Path | None = None, run_bytes: int | None = None
    ) -> None:
        self._stage = _stage_for(config, feed=feed, work_dir=work_dir, run_bytes=run_bytes)
        self.config = self._stage.config

    @staticmethod
    def needed(config: SyncConfig) -> bool:
        """Whether the feed's records must be regrouped before mapping."""
        return config.grouping.mode != "adjacent"

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]:
        """The canonical batches ready now (nested: at once; sorted modes: none before `finish`)."""
        return self._stage.push(batch)

    def finish(self) -> Iterator[RecordBatch]:
        """The rest, streamed lazily from disk."""
        return self._stage.finish()

    def close(self) -> None:
        """Remove the temporary files; call it also when the run fails."""
        self._stage.close()


def _stage_for(
    config: SyncConfig, *, feed: str, work_dir: Path | None, run_bytes: int | None
) -> GroupingStage:
    mode = config.grouping.mode
    sorter = ExternalSorter(work_dir=work_dir, **({} if run_bytes is None else {"run_bytes": run_bytes}))
    if mode == "anywhere":
        return AnywhereStage(config, feed=feed, sorter=sorter)
    if mode == "parent":
        from erpsync.mapping.parent_link import ParentLinkStage
        from erpsync.mapping.parents import ListedChildrenStage

        if config.grouping.children:
            second = ExternalSorter(
                work_dir=work_dir, **({} if run_bytes is None else {"run_bytes": run_bytes})
            )
            return ListedChildrenStage(config, feed=feed, sorter=sorter, second=second)
        return ParentLinkStage(config, feed=feed, sorter=sorter)
    if mode == "nested":
        from erpsync.mapping.nested import NestedStage

        return NestedStage(config, feed=feed)
    raise ValueError(f"grouping mode {mode!r} needs no regrouping")


# -- shared parts ------------------------------------------------------------------------------


def adjacent(config: SyncConfig, **update: Any) -> SyncConfig:
    """`config` for the mapper: grouping adjacent, plus `update`."""
    return config.model_copy(update={"grouping": Grouping(), **update})


def text(value: Any) -> str:
    """A key or SKU cell as the mapper reads it: trimmed text, "" where there is none."""
    if value.__class__ is str:
        return value.strip()
    return safe_text(value) or ""


def field_getter(path: str, columns: tuple[str, ...] | None, *, feed: str) -> Getter:
    """Reads `path` of a record: a CSV column (a short row's missing cell is ""), or a dict path."""
    if columns is None:
        get = path_getter(path)
        return lambda record: get(record) if record.__class__ is dict else None
    if path not in columns:
        shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise FeedLayoutError(feed, f"column {path!r} not in the header ({shown}); check the mapping")
    index = columns.index(path)
    return lambda row: row[index] if index < len(row) else ""


def key_getter(config: SyncConfig, columns: tuple[str, ...] | None, *, feed: str) -> Getter:
    """A record's effective product key: its product_key cell trimmed, else its SKU."""
    sku = field_getter(config.mapping["variant.sku"], columns, feed=feed)
    if not config.product_key:
        return lambda record: text(sku(record))
    key = field_getter(config.product_key, columns, feed=feed)
    return lambda record: text(key(record)) or text(sku(record))


def keys_reader(config: SyncConfig, columns: tuple[str, ...] | None, *, feed: str) -> BatchGetter:
    """`key_getter` for a whole batch in C-level passes: the sort key of every record."""
    sku = field_getter(config.mapping["variant.sku"], columns, feed=feed)
    key = field_getter(config.product_key, columns, feed=feed) if config.product_key else sku

    def keys(records: list[Any]) -> list[str]:
        raw = list(map(key, records))
        try:
            stripped = list(map(str.strip, raw))
        except TypeError:
            stripped = list(map(text, raw))
        if key is sku or all(stripped):
            return stripped
        return [found or text(sku(record)) for found, record in zip(stripped, records, strict=True)]

    return keys


def product_sources(config: SyncConfig) -> list[str]:
    """The paths the mapper reads from a product's first row only: product targets, their rules'
    paths, product metafields."""
    paths = [path for target, path in config.mapping.items() if target not in VARIANT_TARGETS]
    for target, rule in config.rules.items():
        if target not in VARIANT_TARGETS:
            paths += [*([rule.path] if rule.path else []), *(rule.first or [])]
    paths += [item.source_key for item in config.metafield_mappings if item.owner == "product"]
    return list(dict.fromkeys(paths))


class ProductCells:
    """Copies a parent's product cells onto its first child (the parent row itself is dropped): by
    position in a CSV row (padded to the header first), by key in a keyed record."""

    def __init__(self, config: SyncConfig, columns: tuple[str, ...] | None) -> None:
        sources = product_sources(config)
        self._width = 0 if columns is None else len(columns)
        self._positions = (
            [] if columns is None else [columns.index(path) for path in sources if path in columns]
        )
        self._paths = list(dict.fromkeys(part for path in sources for part in {path, path.split(".")[0]}))
        self._rows = columns is not None

    def copy(self, parent: Any, child: Any) -> None:
        if self._rows:
            if len(child) < self._width:
                child.extend([""] * (self._width - len(child)))
            for position in self._positions:
                child[position] = parent[position] if position < len(parent) else ""
        elif parent.__class__ is dict and child.__class__ is dict:
            for path in self._paths:
                if path in parent:
                    child[path] = parent[path]


def unpack(record: Any) -> Any:
    """A record as `pack` took it."""
    return record.split(SEPARATOR) if record.__class__ is str else record


def batches(
    columns: tuple[str, ...] | None,
    items: Iterator[tuple[Any, ...]],
    *,
    feed_rows: int | None = None,
    at: tuple[int, int, int, int] = (0, 1, 2, 3),
    packed: bool = False,
) -> Iterator[RecordBatch]:
    """Items cut into batches: `at` gives where each holds its row, line, record and whether it may
    hold a CellProblem (its batch is then marked, so the mapper takes the row path that reports it);
    `packed` records are unpacked."""
    row_at, line_at, record_at, flag_at = at
    while chunk := list(islice(items, BATCH_RECORDS)):
        fields = list(zip(*chunk, strict=True))
        records = list(fields[record_at])
        if packed:
            try:
                records = list(map(str.split, records, repeat(SEPARATOR)))
            except TypeError:
                records = list(map(unpack, records))
        rows, lines = fields[row_at], fields[line_at]
        yield RecordBatch(
            columns, rows[0], records, feed_rows, rows, lines if any(lines) else None, any(fields[flag_at])
        )
        feed_rows = None


# -- anywhere ----------------------------------------------------------------------------------


class AnywhereStage:
    """Rows sharing a key anywhere in the feed: sorted on disk by key, then row."""

    def __init__(self, config: SyncConfig, *, feed: str, sorter: ExternalSorter) -> None:
        self.config = adjacent(config)
        self._source = config
        self._feed = feed
        self._sorter = sorter
        self._columns: tuple[str, ...] | None = None
        self._key: BatchGetter | None = None
        self._packed = True

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]:
        if self._key is None:
            self._columns = None if batch.columns is None else (HEAD_FIELD, *batch.columns)
            self._key = keys_reader(self._source, batch.columns, feed=self._feed)
        keys = list(map(add, escaped(self._key(batch.records)), repeat(END)))
        items, packed = encode(keys, batch)
        self._packed = self._packed and packed
        self._sorter.add(items, self._sorter.size_of(items))
        return iter(())

    def finish(self) -> Iterator[RecordBatch]:
        feed_rows: int | None = self._sorter.items
        for chunk in slices(self._sorter.sorted(), BATCH_RECORDS):
            found = Decoded(chunk, packed=self._packed, head_tail=ROW_DIGITS)
            rows = found.rows
            yield RecordBatch(
                self._columns, rows[0], found.records, feed_rows, rows, found.lines, found.problems
            )
            feed_rows = None

    def close(self) -> None:
        self._sorter.close()


__all__ = ["BATCH_RECORDS", "KEY_FIELD", "Regrouper"]
