"""Computed values: what one mapping path cannot say, added to record batches before the mapper runs.

A config's `rules` (a constant, the first non-empty of several fields, a value map), its
`variant.sale_price` (the sale price when a row has one, the regular price then becoming the
compare-at price) and its `image_base_url` (relative image paths made absolute) each become a computed
cell of every record. `RuleStage.config` is the config the mapper then reads: the same mapping, with
those targets pointing at the computed cells. The mapper parses computed cells like any other, so a
price a rule picked is checked and reported like a price read directly.

Computed cells are named `\\x1f` + the target with `:` for `.` ("\\x1fvariant:price"): no export writes a
field name starting with the unit-separator control character, and a name without dots keeps the
mapper's fast path for keyed records. A configuration using none of this skips the stage (`needed`).
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from erpsync.feed_config import FieldRule
from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import CellProblem, RecordBatch
from erpsync.mapping.extract import path_getter, row_extractor
from erpsync.mapping.options import option_name
from erpsync.mapping.values import MEMO_SIZE, ValueProblem, to_text
from erpsync.models import SyncConfig

Getter = Callable[[Any], Any]
# A path → its getter for one record shape (a CSV header's column, or a dict path).
Reader = Callable[[str], Getter]
# Builds a target's getter once per record shape; `empty` is what an absent value is ("" or None).
Build = Callable[[Reader, Any], Getter]

_IMAGE_TARGETS = ("images", "variant.image")
# A URL in an image list, as split_urls splits it (`|`, commas, whitespace).
_URL = re.compile(r"[^|,\s]+")


def cell_name(target: str) -> str:
    """The name of the computed cell holding `target`'s value; it cannot clash with a feed's field."""
    return "\x1f" + target.replace(".", ":")


def is_empty(value: Any) -> bool:
    """No value: None, blank text, an empty list or object (a CellProblem is a value: it is reported)."""
    if value is None:
        return True
    if value.__class__ is str:
        return not value or value.isspace()
    return isinstance(value, list | dict) and not value


class RuleStage:
    """Adds the computed cells to each batch; `config` is the config the mapper is to read."""

    def __init__(self, config: SyncConfig, *, feed: str = "feed") -> None:
        self._feed = feed
        builds = _target_builds(config)
        self._outputs = list(builds.items())
        self._names = tuple(cell_name(target) for target, _ in self._outputs)
        read: set[str] = set()

        def record_path(path: str) -> Getter:
            read.add(path)
            return _nothing

        for _, build in self._outputs:
            build(record_path, "")
        # The feed fields computed cells read: a CSV header must have them all.
        self._paths = sorted(read)
        self._columns: tuple[str, ...] | None = None
        self._row_getters: list[Getter] = []
        mapping = {target: path for target, path in config.mapping.items() if target != "variant.sale_price"}
        mapping.update(zip(builds, self._names, strict=True))
        self.config = config.model_copy(
            update={"mapping": mapping, "rules": {}, "options": _option_names(config, builds)}
        )
        self._dict_getters = [build(path_getter, None) for _, build in self._outputs]
        # Keyed feeds: the paths computed cells read that no record has yet given a value for.
        self._unseen = {path: path_getter(path) for path in self._paths}

    @property
    def computed(self) -> tuple[str, ...]:
        """The names the computed cells go by in the mapper's config."""
        return self._names

    def missing_paths(self) -> tuple[str, ...]:
        """The paths computed cells read that no keyed record had a value for (a CSV header
        without one is refused at once instead)."""
        return tuple(sorted(self._unseen)) if self._columns is None else ()

    @staticmethod
    def needed(config: SyncConfig) -> bool:
        """Whether the config computes anything; when not, the stage is not run at all."""
        mapping = config.mapping
        images = config.image_base_url is not None and any(target in mapping for target in _IMAGE_TARGETS)
        return bool(config.rules) or "variant.sale_price" in mapping or images

    def push(self, batch: RecordBatch) -> RecordBatch:
        """The batch with every record's computed cells: appended to a CSV row (a copy, padded to the
        header's width; `columns` extended), added to a copy of a keyed record. Records that are not
        objects pass unchanged, for the mapper to report."""
        records = batch.records
        if not self._outputs:
            return batch
        if batch.columns is not None:
            columns = batch.columns
            if columns != self._columns:
                self._compile(columns)
            width = len(columns)
            if records and (min(map(len, records)) != width or max(map(len, records)) != width):
                records = [(row + [""] * (width - len(row)))[:width] for row in records]
            cells = [list(map(get, records)) for get in self._row_getters]
            records = list(map(operator.add, records, map(list, zip(*cells, strict=True))))
            return self._with(batch, records, cells, columns + self._names)
        if not records:
            return batch
        objects = [record for record in records if record.__class__ is dict]
        cells = [list(map(get, objects)) for get in self._dict_getters]
        for path, get in list(self._unseen.items()):
            if not all(map(is_empty, map(get, objects))):
                del self._unseen[path]
        added = iter(zip(*cells, strict=True))
        names = self._names
        records = [
            {**record, **dict(zip(names, next(added), strict=True))} if record.__class__ is dict else record
            for record in records
        ]
        return self._with(batch, records, cells, None)

    @staticmethod
    def _with(
        batch: RecordBatch, records: list[Any], cells: list[list[Any]], columns: tuple[str, ...] | None
    ) -> RecordBatch:
        """`batch` with the new records; flagged if a computed cell is a CellProblem (the mapper then
        takes its row path, which reports it)."""
        problems = batch.problems or any(CellProblem in map(type, column) for column in cells)
        return dataclasses.replace(batch, columns=columns, records=records, problems=problems)

    def _compile(self, columns: tuple[str, ...]) -> None:
        """Getters for this header, once: a path the header lacks is fatal, as for the mapping."""
        if self._paths:
            row_extractor(self._paths, columns, feed=self._feed)
        if any(name in columns for name in self._names):
            raise FeedLayoutError(self._feed, "the header has a field named like a computed value")
        positions = {name: index for index, name in enumerate(columns)}

        def read(path: str) -> Getter:
            return operator.itemgetter(positions[path])

        self._row_getters = [build(read, "") for _, build in self._outputs]
        self._columns = columns


def _target_builds(config: SyncConfig) -> dict[str, Build]:
    """The targets the stage computes, each with how to compute it."""
    sources: dict[str, Build] = {target: _path(path) for target, path in config.mapping.items()}
    sources.update((target, rule_build(rule)) for target, rule in config.rules.items())
    computed: dict[str, Build] = {target: sources[target] for target in config.rules}
    if config.image_base_url is not None:
        resolve = image_resolver(config.image_base_url)
        for target in _IMAGE_TARGETS:
            if target in sources:
                computed[target] = _then(sources[target], resolve)
    if "variant.sale_price" in sources:
        computed.pop("variant.sale_price", None)
        price, compare = sale_builds(
            sources["variant.sale_price"],
            sources.get("variant.price"),
            sources.get("variant.compare_at_price"),
        )
        computed["variant.price"], computed["variant.compare_at_price"] = price, compare
    return computed


def _option_names(config: SyncConfig, computed: dict[str, Build]) -> list[str]:
    """The option names the mapper would have given, kept although option values now come from
    computed cells: the config's, else the name of the field a value is read from."""
    targets = [f"variant.option{number}" for number in (1, 2, 3)]
    mapped = [target for target in targets if target in config.mapping or target in config.rules]
    if not any(target in computed for target in mapped):
        return config.options
    names: list[str] = []
    for index, target in enumerate(mapped):
        rule = config.rules.get(target)
        path = config.mapping.get(target) or (rule and (rule.path or (rule.first or [""])[0])) or target
        names.append(config.options[index] if index < len(config.options) else option_name(path))
    return names


def _nothing(_record: Any) -> None:
    return None


def _path(path: str) -> Build:
    return lambda read, _empty: read(path)


def _const(value: str) -> Build:
    return lambda _read, _empty: lambda _record: value


def _first(paths: list[str]) -> Build:
    def build(read: Reader, empty: Any) -> Getter:
        getters = [read(path) for path in paths]

        def first(record: Any) -> Any:
            for get in getters:
                if not is_empty(value := get(record)):
                    return value
            return empty

        return first

    return build


def _then(build: Build, after: Callable[[Any], Any]) -> Build:
    def then(read: Reader, empty: Any) -> Getter:
        get = build(read, empty)
        return lambda record: after(get(record))

    return then


def rule_build(rule: FieldRule) -> Build:
    """A FieldRule's value: its constant, its path's value or the first non-empty of its paths; then
    its value map (keys matched trimmed and case-insensitively; `default` for a value it does not
    list, else the value as it is). An empty value stays empty unless the map lists ""."""
    if rule.const is not None:
        base = _const(rule.const)
    elif rule.first is not None:
        base = _first(rule.first)
    else:
        base = _path(str(rule.path))
    if rule.map is None:
        return base
    table = {key.strip().lower(): value for key, value in rule.map.items()}
    default = rule.default
    # Feeds repeat the values a map reads (stock statuses, flags): each text is mapped once.
    memo: dict[str, Any] = {}

    def mapped(value: Any) -> Any:
        if value.__class__ is not str:
            return map_value(value, table, default)
        found = memo.get(value)
        if found is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            found = memo[value] = map_value(value, table, default)
        return found

    return _then(base, mapped)


def map_value(value: Any, table: dict[str, str], default: str | None) -> Any:
    """`value` through a value map whose keys are trimmed and lower-cased."""
    if value.__class__ is CellProblem:
        return value
    if is_empty(value):
        return table.get("", value)
    try:
        text = to_text(value)
    except ValueProblem as problem:
        return CellProblem(f"{problem}; a value map needs a single value")
    found = table.get((text or "").lower())
    if found is not None:
        return found
    return value if default is None else default


def sale_builds(sale: Build, price: Build | None, compare: Build | None) -> tuple[Build, Build]:
    """The price and compare-at price of a row with a sale price field: when the row has a sale price
    it is the price and the regular price the compare-at price; else the regular price, and the
    compare-at price as mapped (if at all)."""

    def both(read: Reader, empty: Any) -> tuple[Getter, Getter, Getter]:
        none: Getter = lambda _record: empty  # noqa: E731
        return (
            sale(read, empty),
            price(read, empty) if price is not None else none,
            compare(read, empty) if compare is not None else none,
        )

    def build_price(read: Reader, empty: Any) -> Getter:
        get_sale, get_price, _ = both(read, empty)

        def value(record: Any) -> Any:
            found = get_sale(record)
            if found.__class__ is str:
                return found if found and not found.isspace() else get_price(record)
            return get_price(record) if is_empty(found) else found

        return value

    def build_compare(read: Reader, empty: Any) -> Getter:
        get_sale, get_price, get_compare = both(read, empty)

        def value(record: Any) -> Any:
            found = get_sale(record)
            if found.__class__ is str:
                return get_price(record) if found and not found.isspace() else get_compare(record)
            return get_compare(record) if is_empty(found) else get_price(record)

        return value

    return build_price, build_compare


def image_resolver(base: str) -> Callable[[Any], Any]:
    """Image paths made absolute against `base`; absolute URLs (any scheme) kept as they are.

    A path is taken as under the base's path, a leading "/" included, as Magento writes them:
    "/m/h/mh01.jpg" under "https://shop.test/media/catalog/product" is
    "https://shop.test/media/catalog/product/m/h/mh01.jpg". "//host/x.jpg" takes the base's scheme.
    Text keeps its separators; a JSON list stays a list.
    """
    root = base if base.endswith("/") else base + "/"

    def one(url: str) -> str:
        try:
            if urlsplit(url).scheme:
                return url
        except ValueError:
            return url
        return urljoin(base, url) if url.startswith("//") else urljoin(root, url.lstrip("/"))

    def resolve(value: Any) -> Any:
        if value.__class__ is str:
            return _URL.sub(lambda match: one(match.group()), value)
        if isinstance(value, list):
            return [one(item) if isinstance(item, str) else item for item in value]
        return value

    return resolve


__all__ = ["RuleStage", "cell_name", "image_resolver", "is_empty", "map_value", "rule_build", "sale_builds"]
