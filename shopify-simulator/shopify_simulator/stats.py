"""The request log and the injected faults, both read and written through the admin endpoints.

``Stats`` counts what clients did (for test assertions: ``GET /_simulator/stats``); ``Faults`` holds
what the next requests should suffer (``POST /_simulator/faults``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from shopify_simulator.state import ShopState


@dataclass
class Stats:
    """Counts since start or the last reset."""

    requests: int = 0
    mutations: Counter[str] = field(default_factory=Counter)
    bulk_operations: Counter[str] = field(default_factory=Counter)
    # Bulk mutation operations by the mutation their lines run (productSet, publishablePublish, ...).
    bulk_mutations: Counter[str] = field(default_factory=Counter)
    bulk_lines: int = 0
    cost_spent: float = 0.0
    throttled: int = 0
    # Bulk result lines answered with an injected transient error (``Faults.line_errors``).
    bulk_line_errors: int = 0
    # Bulk starts refused because every slot was taken.
    bulk_busy: int = 0
    # --- bulk lifecycle: starts refused because every slot was taken, by operation type
    bulk_refused: Counter[str] = field(default_factory=Counter)
    # --- media and sales channels: media made from uploads and removed by productSet (media.py) ---
    media_created: int = 0
    media_deleted: int = 0
    # --- inventory: duplicates answered from an idempotency key; units sold through the admin hook
    idempotent_replays: int = 0
    units_sold: int = 0
    # --- what the writes cost: variants written (productSet, productVariantsBulkUpdate), bytes uploaded
    # to staged uploads (each bulk mutation's JSONL), one entry per upload
    variants_written: int = 0
    uploaded_bytes: list[int] = field(default_factory=list)
    # --- searches: requests (not bulk queries) with a `query:` argument, by connection (productVariants, ...)
    searches: Counter[str] = field(default_factory=Counter)

    def as_json(self, state: ShopState | None = None) -> dict[str, Any]:
        """The documented shape of ``GET /_simulator/stats``; with the shop, where products are published."""
        published: dict[str, list[str]] = {}
        if state is not None:
            published = {name: [] for name in state.publications.values()}
            for product in state.products.values():
                for publication_id in product.publication_ids:
                    published[state.publications[publication_id]].append(product.id)
        return {
            "media": {"created": self.media_created, "deleted": self.media_deleted},
            "variants_written": self.variants_written,
            "uploads": {"count": len(self.uploaded_bytes), "bytes": sum(self.uploaded_bytes)},
            "published": published,
            "products": len(state.products) if state is not None else 0,
            "requests": self.requests,
            "mutations": dict(self.mutations),
            "bulk_operations": {
                "MUTATION": self.bulk_operations["MUTATION"],
                "QUERY": self.bulk_operations["QUERY"],
            },
            "bulk_mutations": dict(self.bulk_mutations),
            "searches": dict(self.searches),
            "bulk_lines": self.bulk_lines,
            "cost_spent": self.cost_spent,
            "throttled": self.throttled,
            "bulk_line_errors": self.bulk_line_errors,
            "bulk_busy": self.bulk_busy,
            "bulk_refused": {"MUTATION": self.bulk_refused["MUTATION"], "QUERY": self.bulk_refused["QUERY"]},
            "inventory": {"idempotent_replays": self.idempotent_replays, "units_sold": self.units_sold},
        }


# Transient line errors. TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT is recorded on a bulk result line
# (contract evidence, finding 1: BCApps BulkOperationResult.txt). The other two are recorded on ordinary
# requests only, and the simulator puts them on a line in the same shape (unconfirmed there):
# INTERNAL_SERVER_ERROR with this text, a request id and `extensions.requestId` (community.shopify.com
# /c/shopify-apis-and-sdks/760-internal-errors-when-calling-shopify-graphql-api/m-p/1130424, 2021,
# productUpdate); "Throttled" with code THROTTLED (community.shopify.com/t/throttled/254776) or with none
# (community.shopify.com/t/…-throttled-requests-response/8456, 2020) — code None sends the text alone.
LINE_ERROR_MESSAGES = {
    "TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT": "This product is currently being modified. Please try again later.",
    "INTERNAL_SERVER_ERROR": "Internal error. Looks like something went wrong on our end.\n"
    "Request ID: 3221c58f-3446-4843-a452-a517787121c6 (include this in support requests).",
    "THROTTLED": "Throttled",
}


@dataclass
class LineErrors:
    """Bulk mutation lines to answer with a transient top-level error and a null payload.

    A line is hit when it carries one of ``skus`` or is every ``every``-th line run; ``count`` lines are
    hit in all (None: the fault never clears). ``written``: the line's write happens before the error.
    ``mutation``: only lines of that mutation (e.g. ``inventorySetQuantities``) are counted and hit.
    """

    skus: frozenset[str] = frozenset()
    every: int = 0
    count: int | None = None
    written: bool = False
    code: str | None = "TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT"  # None: the message alone
    message: str = LINE_ERROR_MESSAGES["TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT"]
    mutation: str | None = None
    seen: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LineErrors:
        known = {"skus", "every", "count", "written", "code", "message", "mutation"}
        if not set(body) <= known:
            raise ValueError(f"line_errors takes {sorted(known)}")
        code = body.get("code", "TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT")
        code = None if code is None else str(code)
        count = body.get("count")
        return cls(
            skus=frozenset(str(sku) for sku in body.get("skus") or ()),
            every=int(body.get("every") or 0),
            count=None if count is None else int(count),
            written=bool(body.get("written", False)),
            code=code,
            message=str(body.get("message") or LINE_ERROR_MESSAGES.get(code or "", code or "Error")),
            mutation=None if body.get("mutation") is None else str(body["mutation"]),
        )

    def take(self, skus: set[str], mutation: str | None = None) -> bool:
        """Whether this line is answered with the error; consumes one of ``count``."""
        if self.mutation is not None and mutation != self.mutation:
            return False
        self.seen += 1
        hit = bool(skus & self.skus) or (self.every > 0 and self.seen % self.every == 0)
        if not hit or self.count == 0:
            return False
        if self.count is not None:
            self.count -= 1
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "skus": sorted(self.skus),
            "every": self.every,
            "count": self.count,
            "written": self.written,
            "code": self.code,
            "message": self.message,
            "mutation": self.mutation,
        }


@dataclass
class Faults:
    """Failures to inject; each counter is consumed as requests arrive."""

    fail_requests: int = 0
    fail_status: int = 503
    drop_connections: int = 0
    # Reply shapes (issue 16): the next N GraphQL requests are THROTTLED whatever the bucket holds, in the
    # shape the options give (throttled_shape, throttled_http_status, throttle_status).
    throttle_requests: int = 0
    latency_seconds: float = 0.0
    # Fail the next bulk mutation after this many lines, with INTERNAL_SERVER_ERROR and partial data.
    fail_bulk_after_lines: int | None = None
    # The reply to the next bulkOperationRunMutation is held this long after the operation started, so a
    # client can be stopped between starting an operation and learning its id.
    hold_bulk_start_seconds: float = 0.0
    sku_errors: dict[str, str] = field(default_factory=dict)
    # A bad hour: this share of requests fails, with 500/502/503/429 in turn, for `fail_seconds`.
    fail_ratio: float = 0.0
    fail_until: float = 0.0
    failures_served: int = 0
    line_errors: LineErrors | None = None  # transient errors on single bulk result lines
    # --- bulk lifecycle: the next bulk mutation stops after this many lines, CANCELED (its url holds
    # the lines that ran) or EXPIRED (no url); the next bulk query ends FAILED with this errorCode.
    cancel_bulk_after_lines: int | None = None
    expire_bulk_after_lines: int | None = None
    fail_export: str | None = None  # the next `fail_export_times` exports end with this error code
    fail_export_times: int = 1
    # --- daily variant cap: days added to today, so a test can reach "tomorrow"
    variant_day_offset: int = 0
    # --- inventory: the next N inventorySetQuantities find one unit of each item sold just before them
    inventory_races: int = 0
    _random: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 - fault draws, not secrets

    def take_bulk_stop(self) -> tuple[int | None, Literal["FAILED", "CANCELED", "EXPIRED"] | None]:
        """Lines after which the next bulk mutation stops, and how it ends; consumed once."""
        stops: tuple[tuple[int | None, Literal["FAILED", "CANCELED", "EXPIRED"]], ...] = (
            (self.fail_bulk_after_lines, "FAILED"),
            (self.cancel_bulk_after_lines, "CANCELED"),
            (self.expire_bulk_after_lines, "EXPIRED"),
        )
        self.fail_bulk_after_lines = self.cancel_bulk_after_lines = self.expire_bulk_after_lines = None
        for lines, status in stops:
            if lines is not None:
                return lines, status
        return None, None

    def flaky_status(self) -> int | None:
        """The status to fail this request with, when the bad hour is on and the draw says so."""
        if self.fail_ratio <= 0 or time.monotonic() >= self.fail_until:
            return None
        if self._random.random() >= self.fail_ratio:
            return None
        self.failures_served += 1
        return (500, 502, 503, 429)[self.failures_served % 4]

    def take_throttle(self) -> bool:
        """True when this GraphQL request is to be answered THROTTLED (``throttle_requests``)."""
        if self.throttle_requests <= 0:
            return False
        self.throttle_requests -= 1
        return True

    def take_bulk_start_hold(self, response: dict[str, Any]) -> float:
        """Seconds to hold this reply: once, for a reply that started a bulk mutation."""
        payload = (response.get("data") or {}).get("bulkOperationRunMutation") or {}
        if not payload.get("bulkOperation") or self.hold_bulk_start_seconds <= 0:
            return 0.0
        hold, self.hold_bulk_start_seconds = self.hold_bulk_start_seconds, 0.0
        return hold

    def update(self, body: dict[str, Any]) -> None:
        """Apply ``POST /_simulator/faults``; unknown keys are refused by the caller's validation."""
        if body.get("clear"):
            self.__init__()  # type: ignore[misc]
        if "fail_requests" in body:
            self.fail_requests = int(body["fail_requests"])
        if "status" in body:
            self.fail_status = int(body["status"])
        if "drop_connections" in body:
            self.drop_connections = int(body["drop_connections"])
        if "throttle_requests" in body:
            self.throttle_requests = int(body["throttle_requests"])
        if "latency_ms" in body:
            self.latency_seconds = float(body["latency_ms"]) / 1000.0
        if "fail_bulk_after_lines" in body:
            value = body["fail_bulk_after_lines"]
            self.fail_bulk_after_lines = None if value is None else int(value)
        if "hold_bulk_start_ms" in body:
            self.hold_bulk_start_seconds = float(body["hold_bulk_start_ms"]) / 1000.0
        if "sku_errors" in body:
            self.sku_errors = {str(sku): str(message) for sku, message in dict(body["sku_errors"]).items()}
        self._update_limits(body)
        if "fail_ratio" in body:
            ratio = float(body["fail_ratio"])
            if not 0.0 <= ratio <= 1.0:
                raise ValueError("fail_ratio must be between 0 and 1")
            self.fail_ratio = ratio
            self.fail_until = time.monotonic() + float(body.get("fail_seconds", 60.0))
        if "line_errors" in body:
            value = body["line_errors"]
            self.line_errors = None if value is None else LineErrors.from_json(dict(value))

    def _update_limits(self, body: dict[str, Any]) -> None:
        """The bulk lifecycle and variant cap keys of ``POST /_simulator/faults``."""
        for key in ("cancel_bulk_after_lines", "expire_bulk_after_lines"):
            if key in body:
                setattr(self, key, None if body[key] is None else int(body[key]))
        if "fail_export" in body:
            code = body["fail_export"]
            if code is not None and code not in {"TIMEOUT", "ACCESS_DENIED", "INTERNAL_SERVER_ERROR"}:
                raise ValueError("fail_export must be TIMEOUT, ACCESS_DENIED or INTERNAL_SERVER_ERROR")
            self.fail_export = code
            self.fail_export_times = max(1, int(body.get("fail_export_times", 1)))
        if "advance_variant_day" in body:
            self.variant_day_offset += int(body["advance_variant_day"])
        if "inventory_races" in body:
            self.inventory_races = int(body["inventory_races"])

    def take_export_failure(self) -> str | None:
        """The error code the export starting now ends with, if a fault is set for it."""
        code = self.fail_export
        if code is not None:
            self.fail_export_times -= 1
            if self.fail_export_times <= 0:
                self.fail_export, self.fail_export_times = None, 1
        return code

    def as_json(self) -> dict[str, Any]:
        """The current faults, as ``POST /_simulator/faults`` takes them."""
        return {
            "fail_requests": self.fail_requests,
            "status": self.fail_status,
            "drop_connections": self.drop_connections,
            "throttle_requests": self.throttle_requests,
            "latency_ms": self.latency_seconds * 1000.0,
            "fail_bulk_after_lines": self.fail_bulk_after_lines,
            "hold_bulk_start_ms": self.hold_bulk_start_seconds * 1000.0,
            "sku_errors": dict(self.sku_errors),
            "fail_ratio": self.fail_ratio,
            "fail_seconds": max(0.0, self.fail_until - time.monotonic()),
            "line_errors": None if self.line_errors is None else self.line_errors.as_json(),
            "cancel_bulk_after_lines": self.cancel_bulk_after_lines,
            "expire_bulk_after_lines": self.expire_bulk_after_lines,
            "fail_export": self.fail_export,
            "fail_export_times": self.fail_export_times,
            "variant_day_offset": self.variant_day_offset,
            "inventory_races": self.inventory_races,
        }


FAULT_KEYS = frozenset(
    {
        "clear",
        "fail_requests",
        "status",
        "drop_connections",
        "throttle_requests",
        "latency_ms",
        "hold_bulk_start_ms",
        "fail_bulk_after_lines",
        "sku_errors",
        "fail_ratio",
        "fail_seconds",
        "line_errors",
        "cancel_bulk_after_lines",
        "expire_bulk_after_lines",
        "fail_export",
        "fail_export_times",
        "advance_variant_day",
        "inventory_races",
    }
)
