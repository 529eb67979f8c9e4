"""A response body computed once and shared by every request for a short while.

`GET /sync/status` is what dashboards and monitors poll; with 200 configs its query and the schedule
arithmetic cost milliseconds, so hundreds of pollers a second would otherwise take the CPU the syncs need.
One computation serves every request inside the window, and concurrent misses wait for the same one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Snapshot:
    """The last body and when it goes stale; a miss starts one refresh that every caller awaits."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._body: bytes | None = None
        self._expires = 0.0
        self._refresh: asyncio.Future[bytes] | None = None
        self._generation = 0

    async def get(self, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        if self._body is not None and time.monotonic() < self._expires:
            return self._body
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(self._compute(compute, self._generation))
        # Shielded: a client hanging up must not cancel the refresh the other callers wait on.
        return await asyncio.shield(self._refresh)

    def invalidate(self) -> None:
        """Forget the body, e.g. after this process queued a run the next answer must show.

        A refresh already running may have read the state before the change: it still answers its
        own callers, but is neither kept nor joined by later ones.
        """
        self._body = None
        self._refresh = None
        self._generation += 1

    async def _compute(self, compute: Callable[[], Awaitable[bytes]], generation: int) -> bytes:
        try:
            body = await compute()
        finally:
            if generation == self._generation:
                self._refresh = None
        if self.seconds > 0 and generation == self._generation:
            self._body, self._expires = body, time.monotonic() + self.seconds
        return body
