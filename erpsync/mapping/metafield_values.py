"""Metafield values checked the way Shopify checks them, so a bad value rejects its row, not the write.

https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import orjson

from erpsync.mapping.money import parse_decimal, parse_money
from erpsync.mapping.values import ValueProblem, parse_bool, parse_integer, to_text

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


__all__ = ["check_metafield"]
