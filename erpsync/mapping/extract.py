"""Reading a record's fields by source path, as one tuple per record in the mapping's slot order.

CSV rows are read with one `operator.itemgetter` call per row (the columns are fixed by the header);
dict records with `dict.get` over the paths, dot paths walking nested objects and lists. The mapping's
batch path reads whole columns instead (`column_reader`): one C-level `map` per field, no per-row tuple.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from functools import partial
from itertools import repeat
from typing import Any

from erpsync import speedups
from erpsync.feeds.errors import FeedLayoutError


def path_getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A getter for a dot path; a key that itself contains dots is tried first."""
    parts = path.split(".")
    if len(parts) == 1:
        return operator.methodcaller("get", path)

    def get(record: dict[str, Any]) -> Any:
        if path in record:
            return record[path]
        value: Any = record
        for part in parts:
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    return get


def dict_extractor(sources: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """`dict.get` over flat paths in one C-level map; dot paths through `path_getter`."""
    flat = [path for path in sources if "." not in path]
    if len(flat) == len(sources):

        def extract_flat(record: dict[str, Any]) -> tuple[Any, ...]:
            return tuple(map(record.get, sources))

        return extract_flat
    getters = [path_getter(path) for path in sources]

    def extract(record: dict[str, Any]) -> tuple[Any, ...]:
        return tuple([getter(record) for getter in getters])

    return extract


def row_extractor(
    sources: list[str], columns: tuple[str, ...], *, feed: str
) -> Callable[[Any], tuple[Any, ...]]:
    """One itemgetter over the header's positions of `sources`; a missing column is fatal."""
    missing = [path for path in sources if path not in columns]
    if missing:
        shown = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise FeedLayoutError(
            feed,
            f"column(s) {', '.join(map(repr, missing))} not in the header ({shown}); "
            "check the mapping, the delimiter and has_header",
        )
    indices = [columns.index(path) for path in sources]
    width = len(columns)
    getter = (
        operator.itemgetter(*indices, *indices[:1]) if len(indices) == 1 else operator.itemgetter(*indices)
    )

    def extract(row: list[str]) -> tuple[Any, ...]:
        try:
            return getter(row)  # type: ignore[no-any-return]
        except IndexError:
            # A short row: the missing trailing cells are empty.
            return getter(row + [""] * (width - len(row)))  # type: ignore[no-any-return]

    return extract


ColumnReader = Callable[[list[Any]], dict[int, list[Any]]]


def column_reader(
    sources: list[str],
    slots: Iterable[int],
    columns: tuple[str, ...] | None,
    extract: Callable[[Any], tuple[Any, ...]],
) -> ColumnReader:
    """Reads the given slots of a whole batch as columns (slot → values in record order).

    CSV: `columns_of` in C, else one `zip(*records)` transpose; a short row anywhere sends the batch
    through `extract`, which pads it. Keyed records: flat paths by `columns_of`, else `dict.get`
    mapped over the batch (TypeError for a record that is not an object: the caller takes the
    row-by-row path); `path_getter` for dot paths.
    """
    take = speedups.columns_of  # as built now: a reader never mixes the two ways
    wanted = sorted(set(slots))
    if columns is not None:
        positions = [(slot, columns.index(sources[slot])) for slot in wanted]
        needed = max((position for _, position in positions), default=-1) + 1
        at = tuple(position for _, position in positions)

        def read_rows(records: list[Any]) -> dict[int, list[Any]]:
            if not positions or not records:
                return {slot: [] for slot in wanted}
            if take is not None:
                if (found := take(records, at)) is not None:
                    return {slot: found[position] for slot, position in positions}
            elif min(map(len, records)) >= needed:
                # One C-level transpose of every cell: ~3x cheaper than an itemgetter map per column.
                transposed = list(zip(*records, strict=False))
                return {slot: list(transposed[position]) for slot, position in positions}
            padded = list(zip(*map(extract, records), strict=True))
            return {slot: list(padded[slot]) for slot in wanted}

        return read_rows
    readers: list[tuple[int, Callable[[list[Any]], list[Any]]]] = []
    flat: list[tuple[int, str]] = []
    for slot in wanted:
        path = sources[slot]
        if "." in path:
            readers.append((slot, partial(_map_list, path_getter(path))))
        elif take is not None:
            flat.append((slot, path))
        else:
            readers.append((slot, partial(_get_all, path)))
    keys = tuple(path for _, path in flat)

    def read_keyed(records: list[Any]) -> dict[int, list[Any]]:
        values = {slot: read(records) for slot, read in readers}
        if keys and take is not None:
            found = take(records, keys)
            assert found is not None  # only a short CSV row gives None
            values.update((slot, found[path]) for slot, path in flat)
        return values

    return read_keyed


def _get_all(path: str, records: list[Any]) -> list[Any]:
    return list(map(dict.get, records, repeat(path)))


def _map_list(getter: Callable[[Any], Any], records: list[Any]) -> list[Any]:
    return list(map(getter, records))
