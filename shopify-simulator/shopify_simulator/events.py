"""Events: what happened to the shop's products, as the ``events`` query (and the deprecated
``deletionEvents``) list them.

Shopify records an event when a product is created, updated or deleted; the REST Event resource names the
product verbs ``create``, ``destroy``, ``published``, ``unpublished`` and ``update``
(https://shopify.dev/docs/api/admin-rest/2022-10/resources/event), and the GraphQL ``events`` query lists
them as ``BasicEvent`` (``action``, ``subjectId``, ``subjectType``, ``createdAt``), filtered by ``action``,
``created_at``, ``id`` and ``subject_type`` (https://shopify.dev/docs/api/admin-graphql/2025-10/queries/events;
"Event data is retained for 1 year": https://shopify.dev/docs/api/admin-graphql/2026-07/queries/events).
``deletionEvents`` (deprecated in 2026-10: "Use `events` instead") lists only deletions as
``DeletionEvent`` (``occurredAt``, ``subjectId``, ``subjectType``), filtered by its ``subjectTypes`` argument
(https://shopify.dev/docs/api/admin-graphql/2024-10/queries/deletionevents); its ``query`` fields are not
documented: the simulator takes ``occurred_at`` and ``id`` (unconfirmed).

Shopify says events "might not be created until a few seconds after the action occurs" (the REST page
above); the simulator records them at once: callers must allow for the lag themselves. It keeps the latest
KEPT_EVENTS in memory, so that a long benchmark does not grow without bound.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopify_simulator.connections import View, connection, legacy_id
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.search import lower_bound, parse_search
from shopify_simulator.state import ShopState, format_datetime, utc_now
from shopify_simulator.views import search_filter

EVENT_SEARCH_FIELDS = {"action", "comments", "created_at", "id", "subject_type"}
DELETION_SEARCH_FIELDS = {"occurred_at", "id"}
KEPT_EVENTS = 200_000
MESSAGES = {
    "create": "{title} was created.",
    "update": "{title} was updated.",
    "destroy": "{title} was deleted.",
}


@dataclass
class ShopEvent:
    """One thing that happened to one resource (``action`` is the REST verb: create, update, destroy)."""

    id: str
    action: str
    subject_id: str
    subject_type: str
    title: str
    created_at: datetime.datetime


def record_event(state: ShopState, action: str, subject_id: str, *, title: str = "") -> None:
    """Note that a product was created, updated or deleted (by any mutation, direct or in bulk)."""
    event_id = state.new_id("BasicEvent")
    state.events.append(ShopEvent(event_id, action, subject_id, "PRODUCT", title, utc_now()))
    if len(state.events) > KEPT_EVENTS + KEPT_EVENTS // 10:
        del state.events[: len(state.events) - KEPT_EVENTS]


def _numeric(global_id: str) -> int:
    tail = legacy_id(global_id)
    return int(tail) if tail.isdigit() else 0


# Each search field of an event, computed only when a query names it (a shop keeps up to KEPT_EVENTS).
EVENT_FIELD_VALUES: dict[str, Callable[[ShopEvent], list[Any]]] = {
    "action": lambda event: [event.action],
    "subject_type": lambda event: [event.subject_type],
    "created_at": lambda event: [event.created_at],
    "occurred_at": lambda event: [event.created_at],
    "id": lambda event: [_numeric(event.id)],
    "comments": lambda event: ["false"],
}


def _fields(event: ShopEvent) -> Callable[[str], list[Any] | None]:
    def get(name: str) -> list[Any] | None:
        values = EVENT_FIELD_VALUES.get(name)
        return None if values is None else values(event)

    return get


def _sorted(events: list[ShopEvent], sort_key: str | None) -> list[ShopEvent]:
    if sort_key == "CREATED_AT":
        return sorted(events, key=lambda event: (event.created_at, _numeric(event.id)))
    return sorted(events, key=lambda event: _numeric(event.id))


def event_view(event: ShopEvent) -> View:
    """A BasicEvent."""
    message = MESSAGES.get(event.action, "{title}").format(title=event.title or "Product")
    return {
        "__typename": "BasicEvent",
        "id": event.id,
        "action": event.action,
        "subjectId": event.subject_id,
        "subjectType": event.subject_type,
        "createdAt": format_datetime(event.created_at),
        "message": message,
        "appTitle": None,
        "attributeToApp": False,
        "attributeToUser": True,
        "criticalAlert": False,
    }


def since(context: ExecutionContext, query: str | None) -> list[ShopEvent]:
    """The events, less those before the query's `created_at` lower bound if it has one (one comparison
    each; the whole query is matched against the rest)."""
    bound = lower_bound(parse_search(query), "created_at")
    events = context.state.events
    return events if bound is None else [event for event in events if event.created_at >= bound]


def query_events(info: ResolveInfo, **arguments: Any) -> View:
    """``events(first, after, query, sortKey, reverse)``."""
    context: ExecutionContext = info.context
    keep = search_filter(info, arguments.get("query"), EVENT_SEARCH_FIELDS, _fields)
    chosen = _sorted(
        [event for event in since(context, arguments.get("query")) if keep(event)], arguments.get("sortKey")
    )
    return connection(info, chosen, event_view, lambda event: event.id, arguments)


def query_events_count(info: ResolveInfo, **arguments: Any) -> View:
    """``eventsCount(query)``: "Limited to a maximum of 10000"."""
    context: ExecutionContext = info.context
    keep = search_filter(info, arguments.get("query"), EVENT_SEARCH_FIELDS, _fields)
    count = sum(1 for event in context.state.events if keep(event))
    return {"count": min(count, 10_000), "precision": "EXACT" if count <= 10_000 else "AT_LEAST"}


def query_deletion_events(info: ResolveInfo, **arguments: Any) -> View:
    """``deletionEvents(first, after, query, subjectTypes, sortKey, reverse)``: destroyed products."""
    context: ExecutionContext = info.context
    keep = search_filter(info, arguments.get("query"), DELETION_SEARCH_FIELDS, _fields)
    types = arguments.get("subjectTypes")
    chosen = [
        event
        for event in context.state.events
        if event.action == "destroy" and (not types or event.subject_type in types) and keep(event)
    ]

    def view(event: ShopEvent) -> View:
        return {
            "__typename": "DeletionEvent",
            "occurredAt": format_datetime(event.created_at),
            "subjectId": event.subject_id,
            "subjectType": event.subject_type,
        }

    return connection(info, _sorted(chosen, arguments.get("sortKey")), view, lambda e: e.id, arguments)


EVENT_QUERIES: dict[str, Callable[..., Any]] = {
    "events": query_events,
    "eventsCount": query_events_count,
    "deletionEvents": query_deletion_events,
}
