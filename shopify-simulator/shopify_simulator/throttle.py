"""The calculated-cost leaky bucket of one app on one shop.

A request must find its requested cost available up front; after execution the unused part
(requested − actual) is refunded. The bucket refills continuously at the restore rate.
https://shopify.dev/docs/api/usage/limits#the-leaky-bucket-algorithm
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LeakyBucket:
    """Points available now, refilled at ``restore_rate`` per second up to ``capacity``."""

    capacity: float
    restore_rate: float
    clock: Callable[[], float] = time.monotonic
    _available: float = field(init=False)
    _updated: float = field(init=False)
    _replies: int = field(init=False, default=0)  # GraphQL replies since start or reset

    def __post_init__(self) -> None:
        self._available = self.capacity
        self._updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self._available = min(self.capacity, self._available + (now - self._updated) * self.restore_rate)
        self._updated = now

    def available(self) -> float:
        """Points available at this moment."""
        self._refill()
        return self._available

    def try_take(self, amount: float) -> bool:
        """Take ``amount`` points if they are all available; otherwise take nothing."""
        self._refill()
        if amount > self._available:
            return False
        self._available -= amount
        return True

    def refund(self, amount: float) -> None:
        """Give back points that were reserved but not spent."""
        self._refill()
        self._available = min(self.capacity, self._available + max(0.0, amount))

    def reset(self) -> None:
        """Fill the bucket (admin reset)."""
        self._available = self.capacity
        self._updated = self.clock()
        self._replies = 0

    def count_reply(self) -> bool:
        """Count one GraphQL reply; True for the first since start or reset."""
        self._replies += 1
        return self._replies == 1

    def status(self) -> dict[str, float]:
        """``extensions.cost.throttleStatus``; Shopify sends floats here (observed)."""
        return {
            "maximumAvailable": float(self.capacity),
            "currentlyAvailable": float(int(self.available())),
            "restoreRate": float(self.restore_rate),
        }
