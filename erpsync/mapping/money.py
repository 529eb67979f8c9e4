"""Numbers, prices and weights as feeds write them, and the config's price rule.

Feeds write prices plainly (Shopify's CSV: `15.00`), with a currency (Google Merchant: `15.00 USD`),
with a symbol (`$15`, `€ 1.234,50`) or in a European spreadsheet's style (WooCommerce: `1.234,50`).
Whatever the style, the result is the decimal string Shopify's Money takes, and plain input comes
out exactly as before, so content hashes do not change.

Currencies: a three-letter ISO 4217 code (any case) before or after the amount names one currency.
Symbols name the currencies that write them: `€` EUR; `£` GBP (and GIP, FKP, SHP); `$` any of the
dollars and pesos written with `$` (USD, CAD, AUD, MXN, ...; `US$`, `C$`, `A$`, `NZ$`, `HK$`, `S$`,
`NT$`, `MX$` name one, `R$` BRL); `¥` JPY or CNY; `kr` SEK, NOK, DKK or ISK. A price in a currency
that is not the shop's is a row error naming both: it is never converted, nor taken as if it were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from erpsync.feed_config import PriceRule
from erpsync.mapping.values import ValueProblem, number_text, to_text

_DOT_DECIMAL = re.compile(r"(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.([0-9]+))?")
# Thousands grouped with points or spaces (a non-breaking or narrow one too, as spreadsheets write).
_COMMA_DECIMAL = re.compile(r"(-?)([0-9]{1,3}(?:[. \u00a0\u202f][0-9]{3})+|[0-9]*)(?:,([0-9]+))?")
# "19.90", "0.50": a Money string as is (no sign, padding, grouping or extra decimals).
_PLAIN_MONEY = re.compile(r"(?:0|[1-9][0-9]*)\.[0-9]{2}")
_THOUSANDS = str.maketrans("", "", ",. \u00a0\u202f")
_CENT = Decimal("0.01")

# ISO 4217 codes in use (and a few Shopify still accepts).
_ISO_4217 = """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF
    XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL"""
CURRENCY_CODES = frozenset(_ISO_4217.split())
# Currencies written with a plain "$".
_DOLLAR_CODES = (
    "USD CAD AUD NZD SGD HKD TWD MXN ARS CLP COP CUP DOP UYU BSD BBD BZD BMD BND FJD GYD JMD KYD LRD NAD "
    "SBD SRD TTD XCD"
)
_DOLLARS = frozenset(_DOLLAR_CODES.split())
# A symbol → (the currencies written with it, how a message names them).
_SYMBOLS: dict[str, tuple[frozenset[str], str]] = {
    "€": (frozenset({"EUR"}), "EUR (€)"),
    "£": (frozenset({"GBP", "GIP", "FKP", "SHP"}), "pounds (£)"),
    "$": (_DOLLARS, "dollars or pesos ($)"),
    "US$": (frozenset({"USD"}), "USD (US$)"),
    "C$": (frozenset({"CAD"}), "CAD (C$)"),
    "CA$": (frozenset({"CAD"}), "CAD (CA$)"),
    "A$": (frozenset({"AUD"}), "AUD (A$)"),
    "AU$": (frozenset({"AUD"}), "AUD (AU$)"),
    "NZ$": (frozenset({"NZD"}), "NZD (NZ$)"),
    "HK$": (frozenset({"HKD"}), "HKD (HK$)"),
    "S$": (frozenset({"SGD"}), "SGD (S$)"),
    "NT$": (frozenset({"TWD"}), "TWD (NT$)"),
    "MX$": (frozenset({"MXN"}), "MXN (MX$)"),
    "R$": (frozenset({"BRL"}), "BRL (R$)"),
    "¥": (frozenset({"JPY", "CNY"}), "JPY or CNY (¥)"),
    "￥": (frozenset({"JPY", "CNY"}), "JPY or CNY (￥)"),
    "kr": (frozenset({"SEK", "NOK", "DKK", "ISK"}), "SEK, NOK, DKK or ISK (kr)"),
    "kr.": (frozenset({"SEK", "NOK", "DKK", "ISK"}), "SEK, NOK, DKK or ISK (kr)"),
    "₹": (frozenset({"INR"}), "INR (₹)"),
    "₩": (frozenset({"KRW"}), "KRW (₩)"),
    "₺": (frozenset({"TRY"}), "TRY (₺)"),
    "₽": (frozenset({"RUB"}), "RUB (₽)"),
    "₪": (frozenset({"ILS"}), "ILS (₪)"),
    "₴": (frozenset({"UAH"}), "UAH (₴)"),
    "₫": (frozenset({"VND"}), "VND (₫)"),
    "₱": (frozenset({"PHP"}), "PHP (₱)"),
    "฿": (frozenset({"THB"}), "THB (฿)"),
    "zł": (frozenset({"PLN"}), "PLN (zł)"),
    "Kč": (frozenset({"CZK"}), "CZK (Kč)"),
}
_MARK = "|".join(map(re.escape, sorted(_SYMBOLS, key=len, reverse=True))) + "|[A-Za-z]{3}"
_LEADING = re.compile(rf"({_MARK})\s*(.+)", re.DOTALL)
_TRAILING = re.compile(rf"(.+?)\s*({_MARK})", re.DOTALL)

# Why a weight with no unit is refused (no unit column, none written beside it, no default).
NO_WEIGHT_UNIT = "has no unit; set default_weight_unit or map variant.weight_unit"
_WEIGHT_UNITS = {
    "g": "GRAMS", "gram": "GRAMS", "grams": "GRAMS",
    "kg": "KILOGRAMS", "kilogram": "KILOGRAMS", "kilograms": "KILOGRAMS",
    "oz": "OUNCES", "ounce": "OUNCES", "ounces": "OUNCES",
    "lb": "POUNDS", "lbs": "POUNDS", "pound": "POUNDS", "pounds": "POUNDS",
}  # fmt: skip


def parse_decimal(value: Any, *, decimal_comma: bool) -> str:
    """A decimal number as a plain string ("1234.5"), accepting grouped thousands and ".5".

    Which separator is the decimal one: the last, where both appear ("1.234,50" is 1234.50 with or
    without `decimal_comma`); else the comma with `decimal_comma` ("12,5"; "1.234" is 1234) and the
    point without it ("1,234" is 1234; "19,90" is refused rather than read as 1990).
    """
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return number_text(value)
    text = to_text(value)
    if text is None:
        raise ValueProblem("is empty")
    comma = text.rfind(",") > text.rfind(".") if "," in text and "." in text else decimal_comma
    match = (_COMMA_DECIMAL if comma else _DOT_DECIMAL).fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        hint = " (set format_options.decimal_comma?)" if not decimal_comma and "," in text else ""
        raise ValueProblem(f"{text!r} is not a number{hint}")
    sign, whole, fraction = match.groups()
    whole = whole.translate(_THOUSANDS).lstrip("0") or "0"
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def parse_money(value: Any, *, decimal_comma: bool) -> str:
    """A non-negative price as Shopify's Money string: at least two decimals, none lost ("19.90").

    A currency written beside the amount is taken off unchecked; `money_parser` checks it.
    """
    if value.__class__ is str and not decimal_comma and _PLAIN_MONEY.fullmatch(value):
        # Already what the general path below would return; most ERP prices look like this.
        return value
    return _money(value, decimal_comma=decimal_comma, currency=None)


def money_parser(
    *, decimal_comma: bool, currency: str | None, rule: PriceRule | None
) -> Callable[[Any], str]:
    """A price parser for one config and shop: `parse_money`, the currency written beside an amount
    checked against the shop's `currency` (None: not checked, as in a preview without a shop), then
    `rule` applied. A column of plain "19.90" values may skip it only when `rule` is None."""
    shop = currency.upper() if currency is not None else None
    adjust = price_rule(rule) if rule is not None else None

    def parse(value: Any) -> str:
        if value.__class__ is str and not decimal_comma and _PLAIN_MONEY.fullmatch(value):
            amount: str = value
        else:
            amount = _money(value, decimal_comma=decimal_comma, currency=shop)
        return amount if adjust is None else adjust(amount)

    return parse


def _money(value: Any, *, decimal_comma: bool, currency: str | None) -> str:
    if isinstance(value, str):
        value = _without_currency(value, currency)
    number = parse_decimal(value, decimal_comma=decimal_comma)
    if number.startswith("-"):
        raise ValueProblem(f"{number} is negative")
    whole, _, fraction = number.partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _without_currency(text: str, currency: str | None) -> str:
    """The amount of "15.00 USD", "USD 15.00", "€ 1.234,50", "-$5"; the text as it is without a mark."""
    stripped = text.strip()
    sign = "-" if stripped.startswith("-") else ""
    body = stripped[len(sign) :]
    if (match := _LEADING.fullmatch(body)) is not None and _is_currency(match.group(1)):
        mark, amount = match.group(1), match.group(2)
    elif (match := _TRAILING.fullmatch(body)) is not None and _is_currency(match.group(2)):
        amount, mark = match.group(1), match.group(2)
    else:
        return text
    if currency is not None:
        codes, named = _SYMBOLS.get(mark) or (frozenset({mark.upper()}), mark.upper())
        if currency not in codes:
            raise ValueProblem(f"{stripped!r} is in {named}, but the shop's currency is {currency}")
    return sign + amount


def _is_currency(mark: str) -> bool:
    return mark in _SYMBOLS or mark.upper() in CURRENCY_CODES


def price_rule(rule: PriceRule) -> Callable[[str], str]:
    """A Money string → the price `rule` makes of it: times the multiplier, plus the markup, rounded
    half-up to cents, then up to the next price whose cents are `ending` (12.34 → 12.99 for 0.99,
    12.99 stays; 0 rounds up to the next whole amount). Negative results are refused."""
    multiplier, markup, ending = rule.multiplier, rule.markup, rule.ending

    def apply(amount: str) -> str:
        price = (Decimal(amount) * multiplier + markup).quantize(_CENT, rounding=ROUND_HALF_UP)
        if ending is not None:
            candidate = price.to_integral_value(rounding=ROUND_FLOOR) + ending
            price = (candidate if candidate >= price else candidate + 1).quantize(_CENT)
        if price < 0:
            raise ValueProblem(f"{amount} becomes {price} under the price rule, which is negative")
        return format(price, "f")

    return apply


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
    """A weight and the unit written beside it, if any ("2.5 kg" → ("2.5", "KILOGRAMS"), "250g" too)."""
    if isinstance(value, str):
        text = value.strip()
        number = text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if number != text and number.strip():
            unit = parse_weight_unit(text[len(number) :])
            return _non_negative(parse_decimal(number.strip(), decimal_comma=decimal_comma)), unit
    return _non_negative(parse_decimal(value, decimal_comma=decimal_comma)), None


def weight_unit(written: str | None, column: str | None, default: str | None) -> str:
    """The unit of a weight: the unit column's value, else the one written beside the weight (both as
    `parse_weight_unit` gives them), else `default` (`parse_weight_unit(config.default_weight_unit)`).
    With none of them it is a row error: a weight without a unit never silently becomes kilograms.
    Shopify's CSV "Variant Grams" is in grams: such feeds set default_weight_unit = "g"."""
    unit = column or written or default
    if unit is None:
        raise ValueProblem(NO_WEIGHT_UNIT)
    return unit


def _non_negative(number: str) -> str:
    if number.startswith("-"):
        raise ValueProblem(f"{number} is negative")
    return number


__all__ = [
    "CURRENCY_CODES",
    "NO_WEIGHT_UNIT",
    "money_parser",
    "parse_decimal",
    "parse_money",
    "parse_weight",
    "parse_weight_unit",
    "price_rule",
    "weight_unit",
]
