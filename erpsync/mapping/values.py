"""Feed values to Shopify values: text, quantities, booleans, statuses, lists, URLs; fast column parsing.

Each function takes what a parser produced (a string from CSV or XML, any JSON value otherwise) and
returns the normalized value or raises `ValueProblem` with a message a merchant can act on. Prices
and weights are in money.py, metafield types in metafield_values.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlsplit


class ValueProblem(ValueError):
    """A feed value that cannot become the Shopify value its field needs."""


# Distinct raw strings remembered per parser before the memory is wiped and starts over.
MEMO_SIZE = 1 << 16


class ColumnParser(Protocol):
    """A field's parser with two entry points: one value (row-by-row path) or a whole column."""

    def parse(self, raw: Any) -> Any:
        """One raw value; absent ones ("" or None) give the field's empty value."""
        ...

    def parse_column(self, column: list[Any]) -> list[Any]:
        """Every value of a column, in order; raises ValueProblem at the first bad one."""
        ...


class MemoTable(dict[Any, Any]):
    """A parser whose results for raw strings are remembered: feeds repeat prices, stock, units a lot.

    `table[raw]` parses on first sight (`__missing__`), so `parse_column` is one C-level
    `map(table.__getitem__, column)` that only drops into Python for values not seen yet. Only
    strings are remembered, since JSON's 1, 1.0 and True are equal as keys but parse differently;
    only successes are, so a bad value raises (and is reported) every time it appears.
    """

    __slots__ = ("_empty", "_parse")

    def __init__(self, parse: Callable[[Any], Any], *, empty: Any = None) -> None:
        super().__init__()
        self._parse = parse
        self._empty = empty
        self._seed()

    def _seed(self) -> None:
        self[""] = self._empty
        self[None] = self._empty

    def __missing__(self, raw: Any) -> Any:
        value = self._parse(raw)
        if raw.__class__ is str:
            if len(self) >= MEMO_SIZE:
                self.clear()
                self._seed()
            self[raw] = value
        return value

    def parse(self, raw: Any) -> Any:
        """One value; unhashable JSON values (lists, objects) go straight to the parser."""
        try:
            return self[raw]
        except TypeError:
            return self._parse(raw)

    def parse_column(self, column: list[Any]) -> list[Any]:
        """A whole column at C speed, value by value only if it holds an unhashable JSON value."""
        try:
            return list(map(self.__getitem__, column))
        except TypeError:
            return list(map(self.parse, column))


def plain_lines(value_pattern: str) -> re.Pattern[str]:
    """A pattern for non-empty values joined by line breaks, each matching `value_pattern`.

    Possessive repeats and no optional group per value (`is_plain` leaves empty values out) make
    Python's regex engine check a column about twice as fast.
    """
    return re.compile(f"(?:{value_pattern}\n)*+{value_pattern}")


def is_plain(lines: re.Pattern[str], column: list[Any]) -> bool:
    """Whether every value is empty or a string that `lines` accepts as it is, in C-level passes.

    False for any value that is not a string (None, a JSON number) or that holds a line break.
    """
    try:
        joined = "\n".join(column)
    except TypeError:
        return False
    if joined.count("\n") != len(column) - 1:
        return False
    if "" in column:
        # Every value is a string here, so only the empty ones are left out.
        joined = "\n".join(filter(None, column))
        if not joined:
            return True
    return lines.fullmatch(joined) is not None


# Values the parsers below would return unchanged (or as int()), so a column of them needs no parsing.
PLAIN_MONEY = plain_lines(r"(?:0|[1-9][0-9]*+)\.[0-9][0-9]")
PLAIN_DECIMAL = plain_lines(r"(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+")
PLAIN_INTEGER = plain_lines(r"-?+[0-9]{1,15}+")


class PlainColumn:
    """A column parser that first checks the whole column against the form its values usually have.

    ERP exports write prices as "19.90" and stock as "12": a column entirely in that form is taken
    as it is (or through `int`) in one regex pass, with no per-value Python call and no dictionary
    lookups into a large memo (on this hardware a cache miss each). Anything else goes to the memo.
    """

    __slots__ = ("_convert", "_lines", "_memo")

    def __init__(
        self, lines: re.Pattern[str], memo: MemoTable, *, convert: Callable[[str], Any] | None = None
    ):
        self._lines = lines
        self._memo = memo
        self._convert = convert

    def parse(self, raw: Any) -> Any:
        """One value, through the memo."""
        return self._memo.parse(raw)

    def parse_column(self, column: list[Any]) -> list[Any]:
        """The column as it is when plain (empty values → None), else value by value."""
        if not is_plain(self._lines, column):
            return self._memo.parse_column(column)
        convert = self._convert
        if "" not in column:
            return column if convert is None else list(map(convert, column))
        if convert is None:
            return [value or None for value in column]
        return [convert(value) if value else None for value in column]


class TextColumn:
    """`clean_text` for fields whose values rarely repeat (barcodes), where a memory would only churn."""

    def parse(self, raw: Any) -> str | None:
        """Trimmed text or None."""
        return clean_text(raw)

    def parse_column(self, column: list[Any]) -> list[str | None]:
        """All strings (the usual case): one C-level strip over the column."""
        try:
            stripped: list[str | None] = list(map(str.strip, column))
        except TypeError:
            return [clean_text(raw) for raw in column]
        return [text or None for text in stripped] if "" in stripped else stripped


class StrippedColumn:
    """Option values: a column of strings is just stripped (C-level); anything else goes to the memo."""

    __slots__ = ("_memo",)

    def __init__(self, memo: MemoTable) -> None:
        self._memo = memo

    def parse(self, raw: Any) -> Any:
        """One value, through the memo."""
        return self._memo.parse(raw)

    def parse_column(self, column: list[Any]) -> list[Any]:
        """`str.strip` over the column, or the memo's answer for a column holding other values."""
        try:
            return list(map(str.strip, column))
        except TypeError:
            return self._memo.parse_column(column)


def strip_column(column: list[Any]) -> list[str | None]:
    """SKUs and product keys: trimmed strings, other scalars as text, None where there is none."""
    try:
        return list(map(str.strip, column))
    except TypeError:
        return [raw.strip() if raw.__class__ is str else safe_text(raw) for raw in column]


def safe_text(value: Any) -> str | None:
    """`to_text`, with a value that is not a scalar counted as absent."""
    try:
        return to_text(value)
    except ValueProblem:
        return None


def clean_text(value: Any) -> str | None:
    """`to_text` with the common case (a string) inlined."""
    if value.__class__ is str:
        return value.strip() or None
    return to_text(value)


# Shopify's number_integer range (JavaScript's safe integers).
MAX_INTEGER = 9_007_199_254_740_991
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_STATUSES = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED", "unlisted": "UNLISTED"}
_SPLIT_IMAGES = re.compile(r"[|,\s]+")


def to_text(value: Any) -> str | None:
    """A scalar as trimmed text; None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    raise ValueProblem(f"expected a single value, got {type(value).__name__}")


def number_text(value: int | float) -> str:
    """A JSON number as plain decimal text (no exponent); NaN and infinities refused."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"{value} is not a number")
        return format(Decimal(repr(value)), "f")
    return str(value)


def parse_integer(value: Any) -> int:
    """A whole number; "12.0" is accepted, "12.5" is not."""
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a whole number")
    if isinstance(value, int):
        number = value
    else:
        text = to_text(value) if not isinstance(value, float) else repr(value)
        if text is None:
            raise ValueProblem("is empty")
        try:
            exact = Decimal(text)
        except InvalidOperation as exc:
            raise ValueProblem(f"{text!r} is not a whole number") from exc
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise ValueProblem(f"{text!r} is not a whole number")
        number = int(exact)
    if abs(number) > MAX_INTEGER:
        raise ValueProblem(f"{number} is out of range")
    return number


def parse_bool(value: Any) -> bool:
    """true/false, 1/0, yes/no, on/off, in any case."""
    if isinstance(value, bool):
        return value
    text = (to_text(value) or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(f"{value!r} is not true or false")


def parse_status(value: Any) -> str:
    """A product status as Shopify spells it (ACTIVE, DRAFT, ARCHIVED, UNLISTED)."""
    text = (to_text(value) or "").lower()
    try:
        return _STATUSES[text]
    except KeyError:
        raise ValueProblem(f"{value!r} is not one of active, draft, archived, unlisted") from None


def split_list(value: Any, separator: str) -> tuple[str, ...]:
    """A list field (tags): a JSON list, or text split on the separator; blanks dropped."""
    if value is None:
        return ()
    items: list[Any] = value if isinstance(value, list) else str(to_text(value) or "").split(separator)
    return tuple(text for item in items if (text := to_text(item)))


def split_urls(value: Any) -> tuple[str, ...]:
    """Image URLs: a JSON list, or text separated by `|`, commas or whitespace; each must be http(s)."""
    if value is None:
        return ()
    items: list[Any] = value if isinstance(value, list) else _SPLIT_IMAGES.split(to_text(value) or "")
    urls = tuple(text for item in items if (text := to_text(item)))
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueProblem(f"{url!r} is not an http(s) URL")
    return urls
