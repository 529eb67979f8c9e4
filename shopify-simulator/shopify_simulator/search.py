"""Shopify's search syntax for the ``query:`` argument of connections, for the fields the simulator serves.

``field:value``, ``field:a,b`` (either), ``:<``/``:>``/``:<=``/``:>=`` ranges, quoted values, ``-`` or
``NOT`` to negate, ``OR`` between terms (``AND`` is implicit), ``value*`` as a prefix. An unknown field
is ignored and everything matches, with a warning, as Shopify does. A backslash escapes the next
character, inside quotes and out (Shopify's special characters are ``:`` ``\\`` ``(`` ``)``); a quoted
value is one value, commas and all.
https://shopify.dev/docs/api/usage/search-syntax (grammar, special characters) ·
https://community.shopify.com/t/escaping-single-quote-and-double-quote-in-graphql/49653 (backslash escapes)
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shopify_simulator.state import parse_datetime

_QUOTED = r"'(?:[^'\\]|\\.)*'|" + r'"(?:[^"\\]|\\.)*"'
_NAME = r"""(?:\\.|\S)+"""
_TOKEN = re.compile(rf"""-?[\w.]+:(?:[<>]=?)?(?:{_QUOTED}|{_NAME})|{_QUOTED}|{_NAME}""")
_TERM = re.compile(r"""^(?P<negated>-)?(?P<field>[\w.]+):(?P<op>[<>]=?)?(?P<value>.*)$""", re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class Term:
    """One ``field:value`` condition (``field`` is None for free text)."""

    field: str | None
    operator: str  # "=", "<", ">", "<=", ">="
    values: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: any of ``groups`` matches when all of its terms match."""

    groups: tuple[tuple[Term, ...], ...]

    def fields(self) -> set[str]:
        """The field names the query uses."""
        return {term.field for group in self.groups for term in group if term.field is not None}

    @functools.cached_property
    def one_field_values(self) -> tuple[str, frozenset[str]] | None:
        """For `sku:A OR sku:B OR …` (every group one exact, plain term of one field): that field and its
        values, lowercased, so that a text field is matched by one set lookup, not a term at a time."""
        field: str | None = None
        values: set[str] = set()
        for group in self.groups:
            if len(group) != 1:
                return None
            term = group[0]
            plain = (
                term.operator == "=" and not term.negated and not any(v.endswith("*") for v in term.values)
            )
            if term.field is None or not plain or field not in (None, term.field):
                return None
            field = term.field
            values.update(value.lower() for value in term.values)
        return None if field is None else (field, frozenset(values))


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


def _unquote(text: str) -> str:
    """A value as written, quotes removed and backslash escapes resolved."""
    return _ESCAPED.sub(r"\1", text[1:-1] if _is_quoted(text) else text)


def _values(raw: str, operator: str | None) -> tuple[str, ...]:
    """``a,b`` is either value; a quoted value, or one compared by a range, is a single value."""
    if operator or _is_quoted(raw):
        return (_unquote(raw),)
    return tuple(_unquote(part) for part in raw.split(","))


def parse_search(query: str | None) -> SearchQuery:
    """Parse a search string; an empty or missing one matches everything."""
    groups: list[tuple[Term, ...]] = []
    current: list[Term] = []
    negate_next = False
    for word in _TOKEN.findall(query or ""):
        if word == "OR":
            groups.append(tuple(current))
            current = []
            continue
        if word == "AND":
            continue
        if word == "NOT":
            negate_next = True
            continue
        match = _TERM.match(word)
        if match:
            term = Term(
                field=match["field"].lower(),
                operator=match["op"] or "=",
                values=_values(match["value"], match["op"]),
                negated=bool(match["negated"]) != negate_next,
            )
        else:
            negated = word.startswith("-")
            term = Term(
                field=None,
                operator="=",
                values=(_unquote(word.lstrip("-")),),
                negated=negated != negate_next,
            )
        current.append(term)
        negate_next = False
    groups.append(tuple(current))
    return SearchQuery(groups=tuple(group for group in groups if group) or ((),))


# A record exposes its searchable fields through a getter: the values of a field, or None if the field
# is not searchable on that resource.
FieldGetter = Callable[[str], Sequence[str | datetime.datetime | int] | None]


# The comparison operators of the search syntax; built once, as a search over a whole shop calls them a
# few hundred thousand times.
COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda left, right: left == right,
    "<": lambda left, right: left < right,  # type: ignore[operator]
    ">": lambda left, right: left > right,  # type: ignore[operator]
    "<=": lambda left, right: left <= right,  # type: ignore[operator]
    ">=": lambda left, right: left >= right,  # type: ignore[operator]
}


@functools.lru_cache(maxsize=256)
def _moment(expected: str) -> datetime.datetime | None:
    """A query's time, parsed once for every record it is compared with."""
    try:
        return parse_datetime(expected)
    except ValueError:
        return None


def _compare(actual: str | datetime.datetime | int, operator: str, expected: str) -> bool:
    if isinstance(actual, datetime.datetime):
        moment = _moment(expected)
        if moment is None:
            return False
        wanted: str | datetime.datetime | int = moment
    elif isinstance(actual, int):
        try:
            wanted = int(expected.rsplit("/", 1)[-1])
        except ValueError:
            return False
    else:
        actual_text, wanted_text = actual.lower(), expected.lower()
        if operator == "=":
            if wanted_text.endswith("*"):
                return actual_text.startswith(wanted_text[:-1])
            return actual_text == wanted_text
        actual, wanted = actual_text, wanted_text
    return COMPARISONS[operator](actual, wanted)


def _term_matches(term: Term, get_field: FieldGetter, free_text: Callable[[], str]) -> bool:
    if term.field is None:
        found = term.values[0].lower() in free_text().lower()
    else:
        actual_values = get_field(term.field)
        if actual_values is None:  # unknown field: ignored, as Shopify does
            return True
        found = any(
            _compare(actual, term.operator, wanted) for actual in actual_values for wanted in term.values
        )
    return found != term.negated


def matches(query: SearchQuery, get_field: FieldGetter, free_text: Callable[[], str] = lambda: "") -> bool:
    """Whether a record matches the query."""
    simple = query.one_field_values
    if simple is not None:
        actual = get_field(simple[0])
        if actual is None:  # unknown field: ignored, as Shopify does
            return True
        if all(isinstance(value, str) for value in actual):
            return any(str(value).lower() in simple[1] for value in actual)
    return any(all(_term_matches(term, get_field, free_text) for term in group) for group in query.groups)


def lower_bound(query: SearchQuery, field: str) -> datetime.datetime | None:
    """The earliest time `field` may hold in a record the query matches, when every OR group bounds it from
    below (`updated_at:>='…'`): a scan can drop the records before it by one comparison each and match
    the whole query against the rest only. None when some group leaves the field open."""
    bounds: list[datetime.datetime] = []
    for group in query.groups:
        found = [
            moment
            for term in group
            if term.field == field and term.operator in (">", ">=") and not term.negated and len(term.values) == 1
            and (moment := _moment(term.values[0])) is not None
        ]  # fmt: skip
        if not found:
            return None
        bounds.append(max(found))
    return min(bounds) if bounds else None


def unknown_fields(query: SearchQuery, known: set[str]) -> list[str]:
    """Fields the query names that the resource cannot be searched by (reported in ``extensions.search``)."""
    return sorted(query.fields() - known)


def required_values(query: SearchQuery, field: str) -> set[str] | None:
    """The values of ``field`` a record must hold (lowercased) to match: one from every OR group.

    None when some group can match without an exact ``field:value`` term (no such term, only negated
    ones, or a ``value*`` prefix): then only a scan of every record answers the query. An index of
    ``field`` answers the others; the whole query still filters what the index hands out."""
    wanted: set[str] = set()
    for group in query.groups:
        term = next(
            (
                term
                for term in group
                if term.field == field
                and term.operator == "="
                and not term.negated
                and not any(value.endswith("*") for value in term.values)
            ),
            None,
        )
        if term is None:
            return None
        wanted.update(value.lower() for value in term.values)
    return wanted
