"""Value normalization: prices to Money strings, and each metafield type checked like Shopify does."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.mapping.metafield_values import check_metafield
from erpsync.mapping.money import parse_money
from erpsync.mapping.values import ValueProblem, parse_integer, split_list


@pytest.mark.parametrize(
    ("raw", "decimal_comma", "expected"),
    [("19.9", False, "19.90"), ("19.90", False, "19.90"), ("20", False, "20.00"), ("0019.999", False, "19.999"),
     ("1,234.5", False, "1234.50"), (" 7.10 ", False, "7.10"), (19.9, False, "19.90"), (5, False, "5.00"),
     (0.1, False, "0.10"), ("19,9", True, "19.90"), ("1.234,56", True, "1234.56"), ("1 234,5", True, "1234.50"),
     ("0", False, "0.00"), ("12.500", False, "12.50"), ("1.234,5", False, "1234.50"), ("€5", False, "5.00")],
)  # fmt: skip
def test_mapping_money(raw: Any, decimal_comma: bool, expected: str) -> None:
    """Prices reach Shopify as exact decimal strings, with or without a decimal comma."""
    assert parse_money(raw, decimal_comma=decimal_comma) == expected


@pytest.mark.parametrize(
    ("raw", "decimal_comma"),
    [("19,90", False), ("1.234.5", False), ("abc", False), ("-1", False), ("1e3", False), (True, False),
     (float("nan"), False), ("", False), ("1,2345", False), ("1.5", True), ("5 XYZ", False), ("€", False)],
)  # fmt: skip
def test_mapping_money_refused(raw: Any, decimal_comma: bool) -> None:
    """Ambiguous, negative or non-numeric prices are refused rather than guessed (19,90 is never 1990)."""
    with pytest.raises(ValueProblem):
        parse_money(raw, decimal_comma=decimal_comma)


@pytest.mark.parametrize(("raw", "expected"), [("12", 12), ("12.0", 12), (-3, -3), (" 4 ", 4), (7.0, 7)])
def test_mapping_integers(raw: Any, expected: int) -> None:
    """Stock counts accept the spellings spreadsheets produce."""
    assert parse_integer(raw) == expected


def test_mapping_tags_split() -> None:
    """Tags split on the separator, trimmed, blanks dropped; JSON lists are taken as they are."""
    assert split_list(" a, b ,,c ", ",") == ("a", "b", "c")
    assert split_list(["x", " ", "y"], ",") == ("x", "y")
    assert split_list(None, ",") == ()


METAFIELD_OK: list[tuple[str, Any, str]] = [
    ("single_line_text_field", " Cotton ", "Cotton"),
    ("multi_line_text_field", "a\nb", "a\nb"),
    ("number_integer", "42", "42"),
    ("number_decimal", "1,234.50", "1234.50"),
    ("boolean", "Yes", "true"),
    ("boolean", False, "false"),
    ("date", "2024-02-29", "2024-02-29"),
    ("date_time", "2024-02-29T10:00:00+01:00", "2024-02-29T10:00:00+01:00"),
    ("json", '{"b": 1, "a": [1]}', '{"b":1,"a":[1]}'),
    ("json", {"a": 1}, '{"a":1}'),
    ("url", "https://acme.test/x?y=1", "https://acme.test/x?y=1"),
    ("url", "mailto:a@b.test", "mailto:a@b.test"),
    ("color", "#ff00AA", "#FF00AA"),
    ("weight", "2.5 kg", '{"unit":"kg","value":2.5}'),
    ("weight", '{"value": 3, "unit": "LB"}', '{"unit":"lb","value":3.0}'),
    ("volume", "330 ml", '{"unit":"ml","value":330.0}'),
    ("dimension", "12 cm", '{"unit":"cm","value":12.0}'),
    ("rating", '{"value": "4.5", "scale_min": "1", "scale_max": "5"}',
     '{"scale_max":"5","scale_min":"1","value":"4.5"}'),
    ("money", "5.9 EUR", '{"amount":"5.90","currency_code":"EUR"}'),
    ("rich_text_field", '{"type": "root", "children": []}', '{"children":[],"type":"root"}'),
    ("product_reference", "gid://shopify/Product/1", "gid://shopify/Product/1"),
    ("variant_reference", "gid://shopify/ProductVariant/9", "gid://shopify/ProductVariant/9"),
    ("file_reference", "gid://shopify/MediaImage/3", "gid://shopify/MediaImage/3"),
    ("list.single_line_text_field", "red, green", '["red","green"]'),
    ("list.number_integer", "[1, 2]", "[1,2]"),
    ("list.color", ["#000000"], '["#000000"]'),
    ("list.weight", "1 kg,2 g", '[{"unit":"kg","value":1.0},{"unit":"g","value":2.0}]'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "raw", "expected"), METAFIELD_OK, ids=[f"{c[0]}-{i}" for i, c in enumerate(METAFIELD_OK)]
)
def test_mapping_metafield_types(kind: str, raw: Any, expected: str) -> None:
    """Each metafield type's value is normalized to what Shopify stores, so the hash stays stable."""
    assert check_metafield(kind, raw, separator=",", decimal_comma=False) == expected


METAFIELD_BAD: list[tuple[str, Any, str]] = [
    ("single_line_text_field", "a\nb", "line break"),
    ("number_integer", "4.2", "whole number"),
    ("number_integer", str(2**60), "out of range"),
    ("number_decimal", "one", "not a number"),
    ("boolean", "maybe", "true or false"),
    ("date", "2023-02-29", "YYYY-MM-DD"),
    ("date", "2024-1-5", "YYYY-MM-DD"),
    ("date_time", "yesterday", "ISO 8601"),
    ("json", "{not json", "not valid JSON"),
    ("url", "javascript:alert(1)", "not a URL"),
    ("url", "https://", "not a URL"),
    ("color", "red", "#RRGGBB"),
    ("weight", "2.5 stone", "weight"),
    ("volume", '{"value": 1, "unit": "kg"}', "volume unit"),
    ("rating", '{"value": 7, "scale_min": 1, "scale_max": 5}', "outside"),
    ("rating", '{"value": 3}', "scale_min"),
    ("money", "5 euros", "currency code"),
    ("rich_text_field", '{"type": "p"}', "root"),
    ("product_reference", "gid://shopify/Collection/1", "gid://shopify/Product"),
    ("page_reference", "123", "gid://shopify/Page"),
    ("list.number_integer", "1,x", "whole number"),
    ("list.url", '["https://a.test", "nope"]', "not a URL"),
    ("single_line_text_field", "  ", "empty"),
    ("single_line_text_field", {"a": 1}, "single value"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "raw", "fragment"), METAFIELD_BAD, ids=[f"{c[0]}-{i}" for i, c in enumerate(METAFIELD_BAD)]
)
def test_mapping_metafield_type_errors(kind: str, raw: Any, fragment: str) -> None:
    """A value its metafield type would refuse is caught here, as a row error, not as a failed bulk line."""
    with pytest.raises(ValueProblem) as caught:
        check_metafield(kind, raw, separator=",", decimal_comma=False)
    assert fragment in str(caught.value)
