"""The request log and the injected faults, both read and written through the admin endpoints.

``Stats`` counts what clients did (for test assertions: ``GET /_simulator/stats``); ``Faults`` holds
what the next requests should suffer (``POST /_simulator/faults``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shopify_simulator.state import ShopState


@dataclass
class Stats:
    """Counts since start or the last reset."""

    requests: int = 0
    mutations: Counter[str] = field(default_factory=Counter)
    bulk_operations: Counter[str] = field(default_factory=Counter)
    bulk_lines: int = 0
    cost_spent: float = 0.0
    throttled: int = 0
    # --- media and sales channels: media made from uploads and removed by productSet (media.py) ---
    media_created: int = 0
    media_deleted: int = 0

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
            "published": published,
            "products": len(state.products) if state is not None else 0,
            "requests": self.requests,
            "mutations": dict(self.mutations),
            "bulk_operations": {
                "MUTATION": self.bulk_operations["MUTATION"],
                "QUERY": self.bulk_operations["QUERY"],
            },
            "bulk_lines": self.bulk_lines,
            "cost_spent": self.cost_spent,
            "throttled": self.throttled,
        }


@dataclass
class Faults:
    """Failures to inject; each counter is consumed as requests arrive."""

    fail_requests: int = 0
    fail_status: int = 503
    drop_connections: int = 0
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
    _random: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 - fault draws, not secrets

    def flaky_status(self) -> int | None:
        """The status to fail this request with, when the bad hour is on and the draw says so."""
        if self.fail_ratio <= 0 or time.monotonic() >= self.fail_until:
            return None
        if self._random.random() >= self.fail_ratio:
            return None
        self.failures_served += 1
        return (500, 502, 503, 429)[self.failures_served % 4]

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
        if "latency_ms" in body:
            self.latency_seconds = float(body["latency_ms"]) / 1000.0
        if "fail_bulk_after_lines" in body:
            value = body["fail_bulk_after_lines"]
            self.fail_bulk_after_lines = None if value is None else int(value)
        if "hold_bulk_start_ms" in body:
            self.hold_bulk_start_seconds = float(body["hold_bulk_start_ms"]) / 1000.0
        if "sku_errors" in body:
            self.sku_errors = {str(sku): str(message) for sku, message in dict(body["sku_errors"]).items()}
        if "fail_ratio" in body:
            ratio = float(body["fail_ratio"])
            if not 0.0 <= ratio <= 1.0:
                raise ValueError("fail_ratio must be between 0 and 1")
            self.fail_ratio = ratio
            self.fail_until = time.monotonic() + float(body.get("fail_seconds", 60.0))

    def as_json(self) -> dict[str, Any]:
        """The current faults, as ``POST /_simulator/faults`` takes them."""
        return {
            "fail_requests": self.fail_requests,
            "status": self.fail_status,
            "drop_connections": self.drop_connections,
            "latency_ms": self.latency_seconds * 1000.0,
            "fail_bulk_after_lines": self.fail_bulk_after_lines,
            "hold_bulk_start_ms": self.hold_bulk_start_seconds * 1000.0,
            "sku_errors": dict(self.sku_errors),
            "fail_ratio": self.fail_ratio,
            "fail_seconds": max(0.0, self.fail_until - time.monotonic()),
        }


FAULT_KEYS = frozenset(
    {
        "clear",
        "fail_requests",
        "status",
        "drop_connections",
        "latency_ms",
        "hold_bulk_start_ms",
        "fail_bulk_after_lines",
        "sku_errors",
        "fail_ratio",
        "fail_seconds",
    }
)
