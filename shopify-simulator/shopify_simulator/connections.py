"""Relay connections and global IDs: paging over any list of the shop's objects, opaque cursors.

Split from ``views.py``; the views import these, and so do ``media.py`` and ``publications.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

from shopify_simulator.context import ExecutionContext, ResolveInfo

MAX_PAGE_SIZE = 250  # https://shopify.dev/docs/api/usage/limits ("≤ 250 nodes per connection page")

View = dict[str, Any]
Item = TypeVar("Item")


def legacy_id(global_id: str) -> str:
    """The number at the end of a global ID, as ``UnsignedInt64`` (a string)."""
    return global_id.rsplit("/", 1)[-1]


def encode_cursor(global_id: str) -> str:
    """An opaque cursor for an item."""
    return base64.urlsafe_b64encode(f"cursor:{global_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The item ID inside a cursor; a malformed cursor is a GraphQL error, as on Shopify."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from error
    if not text.startswith("cursor:"):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}")
    return text.removeprefix("cursor:")


def connection(
    info: ResolveInfo,
    items: Sequence[Item],
    to_view: Callable[[Item], View],
    id_of: Callable[[Item], str],
    arguments: dict[str, Any],
) -> View:
    """A Relay connection over ``items`` (already filtered and sorted) honouring first/last/after/before."""
    context: ExecutionContext = info.context
    ordered = list(reversed(items)) if arguments.get("reverse") else list(items)
    if context.bulk_query:
        # A bulk query ignores first and cursors. https://shopify.dev/docs/api/usage/bulk-operations/queries
        return _connection_view(ordered, to_view, id_of, has_next=False, has_previous=False)
    first, last = arguments.get("first"), arguments.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (value < 0 or value > MAX_PAGE_SIZE):
            raise GraphQLError(f"The '{name}' argument must be between 0 and {MAX_PAGE_SIZE}.")
    positions = {id_of(item): index for index, item in enumerate(ordered)}
    start, end = 0, len(ordered)
    if arguments.get("after") is not None:
        start = positions.get(decode_cursor(arguments["after"]), len(ordered) - 1) + 1
    if arguments.get("before") is not None:
        end = positions.get(decode_cursor(arguments["before"]), end)
    window = ordered[start:end]
    has_next, has_previous = end < len(ordered), start > 0
    if first is not None:
        has_next = has_next or len(window) > first
        window = window[:first]
    if last is not None:
        has_previous = has_previous or len(window) > last
        window = window[max(0, len(window) - last) :]
    return _connection_view(window, to_view, id_of, has_next=has_next, has_previous=has_previous)


def _connection_view(
    window: list[Item],
    to_view: Callable[[Item], View],
    id_of: Callable[[Item], str],
    *,
    has_next: bool,
    has_previous: bool,
) -> View:
    views = [to_view(item) for item in window]
    cursors = [encode_cursor(id_of(item)) for item in window]
    return {
        "edges": [{"cursor": cursor, "node": view} for cursor, view in zip(cursors, views, strict=True)],
        "nodes": views,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }
