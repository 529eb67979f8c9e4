"""The simulator's quick search paths answer as its term-by-term matcher does: a one-field OR search by a
set lookup, and a search bounded below by a time after dropping the records before the bound.

https://shopify.dev/docs/api/usage/search-syntax
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pytest

from shopify_simulator.search import _term_matches, lower_bound, matches, parse_search

NOW = datetime.datetime(2026, 12, 4, 20, 0, 5, tzinfo=datetime.UTC)
RECORDS: list[dict[str, Sequence[str | datetime.datetime | int]]] = [
    {"sku": ["A-1"], "updated_at": [NOW - datetime.timedelta(seconds=5)], "id": [1]},
    {"sku": ["a-2"], "updated_at": [NOW], "id": [2]},
    {"sku": ["B 3"], "updated_at": [NOW + datetime.timedelta(seconds=1)], "id": [3]},
    {"sku": [], "updated_at": [NOW + datetime.timedelta(hours=1)], "id": [4]},
]
QUERIES = [
    'sku:"A-1" OR sku:"A-2"',
    'sku:"b 3" OR sku:A-1',
    "sku:A-1 OR -sku:A-1",
    "sku:A* OR sku:a-2",
    "sku:A-1,B OR id:2",
    "id:1 OR id:3",
    "updated_at:>='2026-12-04T20:00:05Z'",
    "updated_at:>'2026-12-04T20:00:05Z' sku:B*",
    "updated_at:>='2026-12-04T20:00:05Z' OR sku:A-1",
    "updated_at:>='2026-12-04T21:00:00Z' OR updated_at:>='2026-12-04T20:00:06Z'",
    "-updated_at:<'2026-12-04T20:00:05Z'",
]


def term_by_term(query: str, record: dict[str, Sequence[str | datetime.datetime | int]]) -> bool:
    parsed = parse_search(query)
    return any(all(_term_matches(term, record.get, lambda: "") for term in group) for group in parsed.groups)


@pytest.mark.parametrize("query", QUERIES)
def test_quick_paths_answer_as_the_term_by_term_matcher(query: str) -> None:
    parsed = parse_search(query)
    assert [matches(parsed, record.get) for record in RECORDS] == [term_by_term(query, r) for r in RECORDS]
    bound = lower_bound(parsed, "updated_at")
    if bound is not None:  # nothing the bound drops could have matched
        dropped = [record for record in RECORDS if record["updated_at"][0] < bound]  # type: ignore[operator]
        assert not any(term_by_term(query, record) for record in dropped)


def test_the_bound_is_the_earliest_any_group_allows_and_none_when_a_group_is_open() -> None:
    both = parse_search("updated_at:>='2026-12-04T21:00:00Z' OR updated_at:>'2026-12-04T20:00:06Z'")
    assert lower_bound(both, "updated_at") == NOW + datetime.timedelta(seconds=1)
    assert lower_bound(parse_search("updated_at:>='2026-12-04T20:00:05Z' OR sku:A-1"), "updated_at") is None
    assert lower_bound(parse_search("-updated_at:<'2026-12-04T20:00:05Z'"), "updated_at") is None
    assert parse_search('sku:"A-1" OR sku:a-2').one_field_values == ("sku", frozenset({"a-1", "a-2"}))
    assert parse_search("sku:A* OR sku:a-2").one_field_values is None
