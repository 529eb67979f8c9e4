"""The status snapshot: one computation serves a burst of pollers; a write makes the next answer fresh."""

from __future__ import annotations

import asyncio

from erpsync.api.snapshot import Snapshot


class Counter:
    """A computation that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        call = self.calls
        await self.gate.wait()
        return f"body {call}".encode()


async def test_a_burst_of_requests_shares_one_computation() -> None:
    snapshot, compute = Snapshot(60), Counter()
    compute.gate.clear()
    waiting = [asyncio.create_task(snapshot.get(compute)) for _ in range(200)]
    await asyncio.sleep(0.01)
    compute.gate.set()
    assert set(await asyncio.gather(*waiting)) == {b"body 1"}
    assert await snapshot.get(compute) == b"body 1"
    assert compute.calls == 1


async def test_stale_after_the_window_and_uncached_at_zero() -> None:
    snapshot, compute = Snapshot(0.05), Counter()
    assert await snapshot.get(compute) == b"body 1"
    await asyncio.sleep(0.06)
    assert await snapshot.get(compute) == b"body 2"
    never, compute_each = Snapshot(0), Counter()
    assert [await never.get(compute_each) for _ in range(3)] == [b"body 1", b"body 2", b"body 3"]


async def test_invalidate_during_a_refresh_is_not_answered_with_the_old_state() -> None:
    """A refresh that read the state before a write answers its own callers only."""
    snapshot, compute = Snapshot(60), Counter()
    compute.gate.clear()
    early = asyncio.create_task(snapshot.get(compute))
    await asyncio.sleep(0.01)
    snapshot.invalidate()
    compute.gate.set()
    assert await early == b"body 1"
    assert await snapshot.get(compute) == b"body 2"
    assert await snapshot.get(compute) == b"body 2"


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    snapshot, compute = Snapshot(60), Counter()
    compute.gate.clear()
    first = asyncio.create_task(snapshot.get(compute))
    second = asyncio.create_task(snapshot.get(compute))
    await asyncio.sleep(0.01)
    first.cancel()
    compute.gate.set()
    assert await second == b"body 1"
