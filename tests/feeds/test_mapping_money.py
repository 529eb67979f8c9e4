"""Prices and weights as real exports write them, the shop's currency, and the price rule."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from erpsync.feed_config import PriceRule
from erpsync.mapping.money import (
    NO_WEIGHT_UNIT,
    money_parser,
    parse_decimal,
    parse_money,
    parse_weight,
    parse_weight_unit,
    weight_unit,
)
from erpsync.mapping.values import ValueProblem

USD = money_parser(decimal_comma=False, currency="USD", rule=None)
EUR_COMMA = money_parser(decimal_comma=True, currency="EUR", rule=None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Google Merchant Center: amount, space, ISO code.
        ("15.00 USD", "15.00"), ("1299.99 USD", "1299.99"), ("USD 15.00", "15.00"), ("15 usd", "15.00"),
        # Shopify's product CSV and most ERPs: plain amounts.
        ("15.00", "15.00"), ("15", "15.00"), (".5", "0.50"), ("19.999", "19.999"), (15.5, "15.50"),
        # Symbols, with and without a space; thousands with both separators.
        ("$15", "15.00"), ("$ 15.00", "15.00"), ("US$15", "15.00"), ("1,234.50 $", "1234.50"),
        ("1.234,50 USD", "1234.50"), ("1,234", "1234.00"),
    ],
)  # fmt: skip
def test_money_as_feeds_write_it_in_a_dollar_shop(raw: Any, expected: str) -> None:
    """Google Merchant's "15.00 USD", a bare "$15", ".5": all reach Shopify as the same Money string."""
    assert USD(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # WooCommerce and spreadsheets with a decimal comma.
        ("€ 1.234,50", "1234.50"), ("1.234,50 EUR", "1234.50"), ("12,5", "12.50"), ("1.234", "1234.00"),
        ("15 €", "15.00"), ("15€", "15.00"), ("1 234,50", "1234.50"), ("1\u00a0234,50 €", "1234.50"),
        ("1,234.50 EUR", "1234.50"), (",5", "0.50"),
    ],
)  # fmt: skip
def test_money_with_a_decimal_comma(raw: str, expected: str) -> None:
    """With format_options.decimal_comma, "12,5" is 12.50 and "1.234" is 1234."""
    assert EUR_COMMA(raw) == expected


def test_both_separators_need_no_decimal_comma_setting() -> None:
    """Where a price has both separators the last is the decimal one, whatever the setting says."""
    assert parse_money("€ 1.234,50", decimal_comma=False) == "1234.50"
    assert parse_money("1.234,50", decimal_comma=False) == "1234.50"
    assert parse_decimal("1.234.567,8", decimal_comma=False) == "1234567.8"
    with pytest.raises(ValueProblem, match="decimal_comma"):
        parse_money("19,90", decimal_comma=False)


@pytest.mark.parametrize(
    ("raw", "shop", "message"),
    [
        ("15.00 EUR", "USD", "'15.00 EUR' is in EUR, but the shop's currency is USD"),
        ("EUR 15.00", "USD", "is in EUR, but the shop's currency is USD"),
        ("€15", "USD", "is in EUR (€), but the shop's currency is USD"),
        ("£15", "EUR", "is in pounds (£), but the shop's currency is EUR"),
        ("$15", "EUR", "is in dollars or pesos ($), but the shop's currency is EUR"),
        ("C$15", "USD", "is in CAD (C$), but the shop's currency is USD"),
        ("¥1500", "EUR", "is in JPY or CNY (¥), but the shop's currency is EUR"),
        ("99 kr", "EUR", "is in SEK, NOK, DKK or ISK (kr), but the shop's currency is EUR"),
    ],
)
def test_a_price_in_another_currency_is_refused_naming_both(raw: str, shop: str, message: str) -> None:
    """A price in another currency is never taken as if it were the shop's: the row error says both."""
    parse = money_parser(decimal_comma=False, currency=shop, rule=None)
    with pytest.raises(ValueProblem, match=re.escape(message)):
        parse(raw)


@pytest.mark.parametrize(
    ("raw", "shop"), [("$15", "CAD"), ("$15", "MXN"), ("¥1500", "JPY"), ("99 kr", "SEK")]
)
def test_a_symbol_fits_every_currency_written_with_it(raw: str, shop: str) -> None:
    """`$` is the shop's own symbol in a Canadian or Mexican shop, `kr` in a Swedish one."""
    assert money_parser(decimal_comma=False, currency=shop, rule=None)(raw).endswith(".00")


def test_without_a_shop_the_currency_is_not_checked() -> None:
    """A preview with no shop to ask reads the amount and leaves the currency unchecked."""
    assert money_parser(decimal_comma=False, currency=None, rule=None)("15.00 EUR") == "15.00"


@pytest.mark.parametrize("raw", ["15.00 XYZ", "USD", "-$5", "15 USD EUR", "1.2.3"])
def test_what_is_not_a_price_is_refused(raw: str) -> None:
    """Unknown codes, a code alone, negative amounts are refused rather than guessed."""
    with pytest.raises(ValueProblem):
        USD(raw)


@pytest.mark.parametrize(
    ("price", "multiplier", "markup", "ending", "expected"),
    [
        ("12.34", "1", "0", "0.99", "12.99"),
        ("12.99", "1", "0", "0.99", "12.99"),
        ("13.00", "1", "0", "0.99", "13.99"),
        ("12.34", "1", "0", "0", "13.00"),
        ("13.00", "1", "0", "0", "13.00"),
        ("10.00", "1.2", "0", None, "12.00"),
        ("10.005", "1", "0", None, "10.01"),  # half-up, not to even
        ("10.025", "1", "0", None, "10.03"),
        ("19.99", "1.25", "1.50", None, "26.49"),
        ("19.99", "1.25", "1.50", "0.95", "26.95"),
        ("9.00", "1", "0", "0.50", "9.50"),
    ],
)
def test_price_rule_rounding(
    price: str, multiplier: str, markup: str, ending: str | None, expected: str
) -> None:
    """Times the multiplier, plus the markup, half-up to cents, then up to the next price ending in `ending`."""
    rule = PriceRule(
        multiplier=Decimal(multiplier),
        markup=Decimal(markup),
        ending=None if ending is None else Decimal(ending),
    )
    assert money_parser(decimal_comma=False, currency="USD", rule=rule)(price) == expected


def test_price_rule_applies_to_prices_as_feeds_write_them() -> None:
    """The rule works on the parsed amount: "15,00 €" and "15.00" give the same price."""
    rule = PriceRule(multiplier=Decimal(2), ending=Decimal("0.99"))
    assert money_parser(decimal_comma=True, currency="EUR", rule=rule)("15,00 €") == "30.99"
    assert money_parser(decimal_comma=False, currency="EUR", rule=rule)("15.00") == "30.99"


def test_price_rule_never_makes_a_negative_price() -> None:
    """A markup below the price is a row error, not a negative price sent to Shopify."""
    parse = money_parser(decimal_comma=False, currency=None, rule=PriceRule(markup=Decimal(-5)))
    with pytest.raises(ValueProblem, match="negative"):
        parse("3.00")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2.5 kg", ("2.5", "KILOGRAMS")), ("250g", ("250", "GRAMS")), ("1.5", ("1.5", None)), (12, ("12", None)),
     ("0,75 kg", ("0.75", "KILOGRAMS")), ("3 lbs", ("3", "POUNDS"))],
)  # fmt: skip
def test_weights_with_and_without_a_unit(raw: Any, expected: tuple[str, str | None]) -> None:
    """A unit written beside the weight is read with it; a bare number has none."""
    assert parse_weight(raw, decimal_comma=isinstance(raw, str) and "," in raw) == expected


def test_a_unitless_weight_takes_the_default_unit_or_is_refused() -> None:
    """Shopify's "Variant Grams" is grams only because the config says so; without a default it is refused."""
    grams = parse_weight_unit("g")
    assert weight_unit(None, None, grams) == "GRAMS"
    assert weight_unit("KILOGRAMS", None, grams) == "KILOGRAMS"
    assert weight_unit("KILOGRAMS", "POUNDS", grams) == "POUNDS"
    with pytest.raises(ValueProblem, match=NO_WEIGHT_UNIT):
        weight_unit(None, None, None)
    assert NO_WEIGHT_UNIT == "has no unit; set default_weight_unit or map variant.weight_unit"
