"""Client side of Shopify's calculated-cost leaky bucket: wait *before* sending, never after failing.

Shopify reports `extensions.cost.throttleStatus` on every response. The throttle keeps the last report,
refills it at the restore rate, subtracts what in-flight requests have reserved, and makes a request
wait until its requested cost is covered. One throttle per shop is shared by every task of the process
(`throttle_for`), since the bucket is per app and shop.
https://shopify.dev/docs/api/usage/limits · https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from erpsync.metrics import THROTTLE_WAITS, THROTTLED

# Until Shopify has answered once, assume the smallest documented bucket: standard plan, 100 pts/s,
# bucket 20x. Reading the real values from the first response corrects this at once.
DEFAULT_MAXIMUM = 2000.0
DEFAULT_RESTORE_RATE = 100.0


@dataclass
class ThrottleStats:
    waits: int = 0
    waited_seconds: float = 0.0
    throttled: int = 0
    cost_spent: float = 0.0


@dataclass
class Throttle:
    """The bucket of one shop as this process believes it to be."""

    maximum: float = DEFAULT_MAXIMUM
    restore_rate: float = DEFAULT_RESTORE_RATE
    clock: Callable[[], float] = time.monotonic
    stats: ThrottleStats = field(default_factory=ThrottleStats)
    _available: float = field(init=False)
    _updated: float = field(init=False)
    _in_flight: float = field(init=False, default=0.0)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    # Until Shopify has reported the bucket once, only one request is in flight: the bucket size is not
    # published, and guessing it high would let a burst through to be THROTTLED.
    _known: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._available = self.maximum
        self._updated = self.clock()

    def available(self) -> float:
        """Points Shopify should have for us now, net of what in-flight requests reserved."""
        now = self.clock()
        refilled = min(self.maximum, self._available + (now - self._updated) * self.restore_rate)
        return refilled - self._in_flight

    def wait_time(self, cost: float) -> float:
        shortfall = min(cost, self.maximum) - self.available()
        return max(0.0, shortfall / self.restore_rate)

    @asynccontextmanager
    async def reserve(self, cost: float) -> AsyncIterator[None]:
        """Wait until `cost` points are available, hold them while the request is in flight."""
        async with self._lock:  # FIFO: a large request is not starved by a stream of small ones
            while not self._known.is_set() and self._in_flight > 0:
                await self._known.wait()
            while (delay := self.wait_time(cost)) > 0:
                self.stats.waits += 1
                THROTTLE_WAITS.inc()
                self.stats.waited_seconds += delay
                await asyncio.sleep(delay)
            self._in_flight += cost
        try:
            yield
        finally:
            self._in_flight -= cost

    def observe(self, cost: dict[str, Any] | None) -> None:
        """Take Shopify's view of the bucket from a response's `extensions.cost`."""
        if not cost:
            return
        status = cost.get("throttleStatus") or {}
        if status.get("maximumAvailable"):
            self.maximum = float(status["maximumAvailable"])
        if status.get("restoreRate"):
            self.restore_rate = float(status["restoreRate"])
        if status.get("currentlyAvailable") is not None:
            self._available = float(status["currentlyAvailable"])
            self._updated = self.clock()
            self._known.set()
        actual = cost.get("actualQueryCost")
        if actual is not None:
            self.stats.cost_spent += float(actual)

    def throttled_delay(self, cost: float) -> float:
        """How long a THROTTLED request must wait: (requested − available) / restore rate."""
        self.stats.throttled += 1
        THROTTLED.inc()
        return max(self.wait_time(cost), 1.0 / self.restore_rate)


# Keyed by event loop as well: an asyncio.Lock belongs to the loop that first waits on it.
_throttles: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Throttle]] = (
    weakref.WeakKeyDictionary()
)


def throttle_for(shop: str) -> Throttle:
    """The process-wide throttle of `shop`, shared by every config and task that writes to it."""
    per_loop = _throttles.setdefault(asyncio.get_running_loop(), {})
    throttle = per_loop.get(shop)
    if throttle is None:
        throttle = per_loop[shop] = Throttle()
    return throttle
