"""Whole-column parsing gives exactly what parsing each value gives, errors included."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erpsync.mapping.money import parse_decimal, parse_money
from erpsync.mapping.values import (
    PLAIN_DECIMAL,
    PLAIN_INTEGER,
    PLAIN_MONEY,
    MemoTable,
    PlainColumn,
    StrippedColumn,
    TextColumn,
    ValueProblem,
    is_plain,
    parse_integer,
)

money = partial(parse_money, decimal_comma=False)
NUMBERISH = st.lists(
    st.one_of(
        st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{0,3})?", fullmatch=True),
        st.sampled_from(["", " 7.10 ", "1,234.50", "19.90\n20.00", "٣.00", "0.50", "00.50", "5.", ".99"]),
    ),
    min_size=1,
    max_size=12,
)


def _each(parse: Any, column: list[Any], empty: Any = None) -> list[Any] | type[ValueProblem]:
    try:
        return [empty if raw is None or raw == "" else parse(raw) for raw in column]
    except ValueProblem:
        return ValueProblem


def _whole(parser: Any, column: list[Any]) -> list[Any] | type[ValueProblem]:
    try:
        return list(parser.parse_column(column))
    except ValueProblem:
        return ValueProblem


@settings(max_examples=300, deadline=None)
@given(column=NUMBERISH)
def test_values_plain_columns_match_value_by_value(column: list[str]) -> None:
    """A column taken as it is (prices, stock) equals what each value's parser returns, or fails alike."""
    assert _whole(PlainColumn(PLAIN_MONEY, MemoTable(money)), column) == _each(money, column)
    integer = PlainColumn(PLAIN_INTEGER, MemoTable(parse_integer), convert=int)
    assert _whole(integer, column) == _each(parse_integer, column)
    if is_plain(PLAIN_DECIMAL, column):
        assert [value or None for value in column] == _each(
            partial(parse_decimal, decimal_comma=False), column
        )


@pytest.mark.parametrize(
    "column",
    [
        ["19.90", "5.00"],
        ["19.90", None],
        [19.9, "5.00"],
        ["1", "2"],
        [" a ", "b", ""],
        [["x"], "y"],
        [{"a": 1}],
    ],
)
def test_values_columns_with_json_values(column: list[Any]) -> None:
    """JSON numbers, nulls, lists and objects fall back to the value-by-value parsers, same results."""
    assert _whole(PlainColumn(PLAIN_MONEY, MemoTable(money)), column) == _each(money, column)
    assert _whole(TextColumn(), column) == _each(TextColumn().parse, column)
    options = StrippedColumn(MemoTable(lambda raw: raw.strip() if isinstance(raw, str) else "", empty=""))
    assert _whole(options, column) == _each(options.parse, column, empty="")


def test_values_memo_table_remembers_only_strings() -> None:
    """1, 1.0 and True are equal dictionary keys but different feed values: only strings are remembered."""
    table = MemoTable(repr)
    assert table.parse_column(["1", 1, 1.0, True, None, ""]) == ["'1'", "1", "1.0", "True", None, None]
    assert set(table) == {"1", "", None}
