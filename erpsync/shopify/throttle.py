"""Client side of Shopify's calculated-cost leaky bucket: wait *before* sending, never after failing.

Shopify reports `extensions.cost.throttleStatus` on most responses. The throttle keeps the last report,
refills it at the restore rate, subtracts what in-flight requests have reserved, and makes a request
wait until its requested cost is covered. One throttle per shop is shared by every task of the process
(`throttle_for`), since the bucket is per app and shop.

Some replies carry no status (error replies, 5xx, MAX_COST bodies; whole shops on the 'staff' plan:
https://github.com/MONEI/Shopify-api-node/pull/366). Until a status is known, requests go one at a
time, and every finished request (answered or not) lets the next one go; a shop that answers without
ever reporting is paced by the documented defaults.
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

from erpsync.logs import get_logger
from erpsync.metrics import SHOPIFY_COST, THROTTLE_WAITS, THROTTLED

log = get_logger("erpsync.shopify.throttle")

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
    shop: str = ""  # the metrics' `shop` label
    _available: float = field(init=False)
    _updated: float = field(init=False)
    _in_flight: float = field(init=False, default=0.0)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    # Until the bucket is known (reported once, or assumed after an answer that had none), only one
    # request is in flight: the bucket size is not published, and guessing it high would let a burst
    # through to be THROTTLED. `_idle` is set whenever no request is in flight, however the last ended.
    _known: bool = field(init=False, default=False)
    _requests: int = field(init=False, default=0)
    _idle: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._available = self.maximum
        self._updated = self.clock()
        self._idle.set()

    @property
    def known(self) -> bool:
        """True once Shopify reported the bucket, or answered in a way that says it never will."""
        return self._known

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
            while not self._known and self._requests:
                await self._idle.wait()
            while (delay := self.wait_time(cost)) > 0:
                self.stats.waits += 1
                THROTTLE_WAITS.labels(shop=self.shop).inc()
                self.stats.waited_seconds += delay
                await asyncio.sleep(delay)
            self._in_flight += cost
            self._requests += 1
            self._idle.clear()
        try:
            yield
        finally:  # success, error reply, exception or cancellation alike: the next request may go
            self._in_flight -= cost
            self._requests -= 1
            if not self._requests:
                self._in_flight = 0.0  # no float residue once nothing is in flight
                self._idle.set()

    def observe(self, cost: dict[str, Any] | None, *, answered: bool = False) -> None:
        """Take Shopify's view of the bucket from a response's `extensions.cost`.

        `answered` says Shopify ran the request (the reply has data). Such a reply without a status
        means the shop does not report one: the defaults stand, and the cost it spent is debited here.
        """
        cost = cost if isinstance(cost, dict) else {}
        status = cost.get("throttleStatus")
        status = status if isinstance(status, dict) else {}
        if status.get("maximumAvailable"):
            self.maximum = float(status["maximumAvailable"])
        if status.get("restoreRate"):
            self.restore_rate = float(status["restoreRate"])
        actual = cost.get("actualQueryCost")
        if status.get("currentlyAvailable") is not None:
            self._available = float(status["currentlyAvailable"])
            self._updated = self.clock()
            self._known = True
        elif actual is not None:
            self._debit(float(actual))
        if answered and not self._known:
            self._known = True
            log.info(
                "shopify reports no throttle status; pacing by the default bucket",
                maximum=self.maximum,
                restore_rate=self.restore_rate,
            )
        if actual is not None:
            self.stats.cost_spent += float(actual)
            SHOPIFY_COST.labels(shop=self.shop).inc(float(actual))

    def _debit(self, points: float) -> None:
        """Our own estimate of the bucket, for replies that do not report it."""
        now = self.clock()
        refilled = min(self.maximum, self._available + (now - self._updated) * self.restore_rate)
        self._available, self._updated = refilled - points, now

    def throttled_delay(self, cost: float, *, reported: bool = True) -> float:
        """How long a THROTTLED request must wait: (requested − available) / restore rate.

        When the THROTTLED reply did not report the bucket (`reported` False), it is taken as empty:
        Shopify just said it holds less than `cost`.
        """
        self.stats.throttled += 1
        THROTTLED.labels(shop=self.shop).inc()
        if not reported:
            self._available, self._updated = min(self._available, 0.0), self.clock()
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
        throttle = per_loop[shop] = Throttle(shop=shop)
    return throttle
