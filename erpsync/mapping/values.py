"""Feed values to Shopify values: Money strings, quantities, booleans, units, metafield types.

Each function takes what a parser produced (a string from CSV or XML, any JSON value otherwise) and
returns the normalized value or raises `ValueProblem` with a message a merchant can act on.
https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from erpsync import speedups


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
    The three forms below are checked by erpsync._speedups where it was built, without joining.
    """
    check = speedups.plain_column
    if check is not None and column.__class__ is list and (form := _C_FORMS.get(lines)) is not None:
        return check(column, form)
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
# Their numbers in erpsync/_speedups.c's plain_column.
_C_FORMS = {PLAIN_MONEY: 0, PLAIN_DECIMAL: 1, PLAIN_INTEGER: 2}


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


_DOT_DECIMAL = re.compile(r"(-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_COMMA_DECIMAL = re.compile(r"(-?)(\d{1,3}(?:[.\s ]\d{3})+|\d+)(?:,(\d+))?")
# "19.90", "0.50": a Money string as is (no sign, padding, grouping or extra decimals).
_PLAIN_MONEY = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9]{2}")
_THOUSANDS = str.maketrans("", "", ",. \u00a0")
# Shopify's number_integer range (JavaScript's safe integers).
MAX_INTEGER = 9_007_199_254_740_991
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_STATUSES = {"active": "ACTIVE", "draft": "DRAFT", "archived": "ARCHIVED", "unlisted": "UNLISTED"}
_WEIGHT_UNITS = {
    "g": "GRAMS", "gram": "GRAMS", "grams": "GRAMS",
    "kg": "KILOGRAMS", "kilogram": "KILOGRAMS", "kilograms": "KILOGRAMS",
    "oz": "OUNCES", "ounce": "OUNCES", "ounces": "OUNCES",
    "lb": "POUNDS", "lbs": "POUNDS", "pound": "POUNDS", "pounds": "POUNDS",
}  # fmt: skip
_MEASURE_UNITS = {
    "weight": {"g", "kg", "lb", "oz"},
    "volume": {"ml", "cl", "l", "m3", "us_fl_oz", "us_pt", "us_qt", "us_gal", "imp_fl_oz", "imp_pt",
               "imp_qt", "imp_gal"},
    "dimension": {"in", "ft", "yd", "mm", "cm", "m"},
}  # fmt: skip
_REFERENCE_TYPES = {
    "product_reference": ("Product",),
    "variant_reference": ("ProductVariant",),
    "collection_reference": ("Collection",),
    "file_reference": ("MediaImage", "GenericFile", "Video"),
    "page_reference": ("Page",),
    "metaobject_reference": ("Metaobject",),
}
_GID = re.compile(r"gid://shopify/([A-Za-z]+)/\d+")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_URL_SCHEMES = frozenset({"http", "https", "mailto", "sms", "tel"})
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
        return _number_text(value)
    raise ValueProblem(f"expected a single value, got {type(value).__name__}")


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"{value} is not a number")
        return format(Decimal(repr(value)), "f")
    return str(value)


def parse_decimal(value: Any, *, decimal_comma: bool) -> str:
    """A decimal number as a plain string ("1234.5"), accepting grouped thousands."""
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return _number_text(value)
    text = to_text(value)
    if text is None:
        raise ValueProblem("is empty")
    match = (_COMMA_DECIMAL if decimal_comma else _DOT_DECIMAL).fullmatch(text)
    if match is None:
        hint = " (set format_options.decimal_comma?)" if not decimal_comma and "," in text else ""
        raise ValueProblem(f"{text!r} is not a number{hint}")
    sign, whole, fraction = match.groups()
    whole = whole.translate(_THOUSANDS).lstrip("0") or "0"
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def parse_money(value: Any, *, decimal_comma: bool) -> str:
    """A non-negative price as Shopify's Money string: at least two decimals, none lost ("19.90")."""
    if value.__class__ is str and not decimal_comma and _PLAIN_MONEY.fullmatch(value):
        # Already what the general path below would return; most ERP prices look like this.
        return value
    number = parse_decimal(value, decimal_comma=decimal_comma)
    if number.startswith("-"):
        raise ValueProblem(f"{number} is negative")
    whole, _, fraction = number.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction.ljust(2, '0')}"


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


def parse_weight_unit(value: Any) -> str:
    """A weight unit as Shopify spells it (GRAMS, KILOGRAMS, OUNCES, POUNDS)."""
    text = (to_text(value) or "").lower()
    if text.upper() in _WEIGHT_UNITS.values():
        return text.upper()
    try:
        return _WEIGHT_UNITS[text]
    except KeyError:
        raise ValueProblem(f"{value!r} is not a weight unit (g, kg, oz, lb)") from None


def parse_weight(value: Any, *, decimal_comma: bool) -> tuple[str, str | None]:
    """A weight and the unit written beside it, if any ("2.5 kg" → ("2.5", "KILOGRAMS"))."""
    if isinstance(value, str) and " " in value.strip():
        number, unit = value.strip().rsplit(" ", 1)
        return _non_negative(parse_decimal(number, decimal_comma=decimal_comma)), parse_weight_unit(unit)
    return _non_negative(parse_decimal(value, decimal_comma=decimal_comma)), None


def _non_negative(number: str) -> str:
    if number.startswith("-"):
        raise ValueProblem(f"{number} is negative")
    return number


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


def check_metafield(kind: str, value: Any, *, separator: str, decimal_comma: bool) -> str:
    """The metafield value Shopify stores for `kind`, or a ValueProblem naming what is wrong."""
    if kind.startswith("list."):
        inner = kind.removeprefix("list.")
        items = value if isinstance(value, list) else _list_items(value, separator)
        checked = [_list_element(inner, item, decimal_comma=decimal_comma) for item in items]
        return orjson.dumps(checked).decode()
    return _check_scalar(kind, value, decimal_comma=decimal_comma)


def _list_items(value: Any, separator: str) -> list[Any]:
    text = to_text(value)
    if text is None:
        return []
    if text.startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueProblem(f"{text!r} is not a JSON list") from exc
        if isinstance(parsed, list):
            return parsed
    return [item for item in text.split(separator) if item.strip()]


def _list_element(kind: str, item: Any, *, decimal_comma: bool) -> Any:
    checked = _check_scalar(kind, item, decimal_comma=decimal_comma)
    if kind in {"number_integer", "number_decimal"} or kind in _MEASURE_UNITS or kind == "rating":
        return orjson.loads(checked)
    return checked


def _check_scalar(kind: str, value: Any, *, decimal_comma: bool) -> str:
    if kind in _STRUCTURED_TYPES:
        return _check_structured(kind, value, decimal_comma=decimal_comma)
    text = to_text(value)
    if text is None:
        raise ValueProblem("is empty")
    if kind in _REFERENCE_TYPES:
        return _check_reference(kind, text)
    check = _TEXT_CHECKS.get(kind)
    if check is None:
        raise ValueProblem(f"metafield type {kind} cannot be written from a feed")
    return check(text, value, decimal_comma)


def _single_line(text: str, _value: Any, _decimal_comma: bool) -> str:
    if "\n" in text or "\r" in text:
        raise ValueProblem("has a line break, which single_line_text_field does not allow")
    return text


def _date(text: str, _value: Any, _decimal_comma: bool) -> str:
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise ValueProblem(f"{text!r} is not a YYYY-MM-DD date")


def _date_time(text: str, _value: Any, _decimal_comma: bool) -> str:
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ValueProblem(f"{text!r} is not an ISO 8601 date and time") from exc


def _url(text: str, _value: Any, _decimal_comma: bool) -> str:
    parts = urlsplit(text)
    if parts.scheme not in _URL_SCHEMES or (parts.scheme.startswith("http") and not parts.netloc):
        raise ValueProblem(f"{text!r} is not a URL (http, https, mailto, sms or tel)")
    return text


def _color(text: str, _value: Any, _decimal_comma: bool) -> str:
    if not _COLOR.fullmatch(text):
        raise ValueProblem(f"{text!r} is not a #RRGGBB color")
    return text.upper()


def _check_reference(kind: str, text: str) -> str:
    match = _GID.fullmatch(text)
    if match is None or match.group(1) not in _REFERENCE_TYPES[kind]:
        expected = " or ".join(_REFERENCE_TYPES[kind])
        raise ValueProblem(f"{text!r} is not a gid://shopify/{expected}/... id")
    return text


_TEXT_CHECKS: dict[str, Callable[[str, Any, bool], str]] = {
    "single_line_text_field": _single_line,
    "multi_line_text_field": lambda text, _value, _comma: text,
    "number_integer": lambda _text, value, _comma: str(parse_integer(value)),
    "number_decimal": lambda _text, value, comma: parse_decimal(value, decimal_comma=comma),
    "boolean": lambda _text, value, _comma: "true" if parse_bool(value) else "false",
    "date": _date,
    "date_time": _date_time,
    "url": _url,
    "color": _color,
}
_STRUCTURED_TYPES = frozenset({"json", "rich_text_field", "rating", "money", *_MEASURE_UNITS})


def _check_structured(kind: str, value: Any, *, decimal_comma: bool) -> str:
    """JSON-valued types: json, rich_text_field, rating, money and the measurements."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueProblem("is empty")
        if kind in _MEASURE_UNITS and not text.startswith("{"):
            return _measure_from_text(kind, text, decimal_comma=decimal_comma)
        if kind == "money" and not text.startswith("{"):
            amount, _, currency = text.rpartition(" ")
            value = {"amount": amount, "currency_code": currency}
        else:
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ValueProblem(f"is not valid JSON ({exc})") from exc
    if kind == "json":
        return orjson.dumps(value).decode()
    if not isinstance(value, dict):
        raise ValueProblem(f"{kind} needs a JSON object")
    if kind == "rich_text_field" and value.get("type") != "root":
        raise ValueProblem('rich_text_field needs an object with "type": "root"')
    if kind == "rating":
        _check_rating(value)
    elif kind == "money":
        value = _money_object(value, decimal_comma=decimal_comma)
    elif kind in _MEASURE_UNITS:
        value = _measure_object(kind, value, decimal_comma=decimal_comma)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _check_rating(value: dict[str, Any]) -> None:
    try:
        low, high = Decimal(str(value["scale_min"])), Decimal(str(value["scale_max"]))
        rating = Decimal(str(value["value"]))
    except (KeyError, InvalidOperation) as exc:
        raise ValueProblem("rating needs numeric value, scale_min and scale_max") from exc
    if not low <= rating <= high:
        raise ValueProblem(f"rating {rating} is outside {low}..{high}")


def _money_object(value: dict[str, Any], *, decimal_comma: bool) -> dict[str, Any]:
    amount = parse_money(value.get("amount"), decimal_comma=decimal_comma)
    currency = str(value.get("currency_code") or "")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueProblem(f"{currency!r} is not a 3-letter currency code")
    return {"amount": amount, "currency_code": currency}


def _measure_object(kind: str, value: dict[str, Any], *, decimal_comma: bool) -> dict[str, Any]:
    unit = str(value.get("unit", "")).lower()
    if unit not in _MEASURE_UNITS[kind]:
        raise ValueProblem(f"{unit!r} is not a {kind} unit")
    number = parse_decimal(value.get("value"), decimal_comma=decimal_comma)
    return {"unit": unit, "value": float(number)}


def _measure_from_text(kind: str, text: str, *, decimal_comma: bool) -> str:
    number, _, unit = text.rpartition(" ")
    unit = unit.lower()
    if not number or unit not in _MEASURE_UNITS[kind]:
        raise ValueProblem(f"{text!r} is not a {kind} like '2.5 {sorted(_MEASURE_UNITS[kind])[0]}'")
    value = float(parse_decimal(number, decimal_comma=decimal_comma))
    return orjson.dumps({"unit": unit, "value": value}).decode()
