"""The request log and the injected faults, both read and written through the admin endpoints.

``Stats`` counts what clients did (for test assertions: ``GET /_simulator/stats``); ``Faults`` holds
what the next requests should suffer (``POST /_simulator/faults``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """Counts since start or the last reset."""

    requests: int = 0
    mutations: Counter[str] = field(default_factory=Counter)
    bulk_operations: Counter[str] = field(default_factory=Counter)
    bulk_lines: int = 0
    cost_spent: float = 0.0
    throttled: int = 0

    def as_json(self) -> dict[str, Any]:
        """The documented shape of ``GET /_simulator/stats``."""
        return {
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
    sku_errors: dict[str, str] = field(default_factory=dict)

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
        if "sku_errors" in body:
            self.sku_errors = {str(sku): str(message) for sku, message in dict(body["sku_errors"]).items()}

    def as_json(self) -> dict[str, Any]:
        """The current faults, as ``POST /_simulator/faults`` takes them."""
        return {
            "fail_requests": self.fail_requests,
            "status": self.fail_status,
            "drop_connections": self.drop_connections,
            "latency_ms": self.latency_seconds * 1000.0,
            "fail_bulk_after_lines": self.fail_bulk_after_lines,
            "sku_errors": dict(self.sku_errors),
        }


FAULT_KEYS = frozenset(
    {
        "clear",
        "fail_requests",
        "status",
        "drop_connections",
        "latency_ms",
        "fail_bulk_after_lines",
        "sku_errors",
    }
)
