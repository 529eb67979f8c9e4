"""The per-config lock: one running sync per config, whatever the number of workers and machines.

A PostgreSQL advisory lock held by the run's own session: it dies with the process, so a run found
`running` once the lock is taken belongs to a dead process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from erpsync.db import schedules
from erpsync.errors import ConfigError, ErpsyncError


class SyncBusy(ConfigError):
    """Another process is syncing this config right now."""


class LockLost(ErpsyncError):
    """PostgreSQL cut the session holding a run's lock: the run stops; a worker's resumer finishes it."""


def config_lock_key(config_id: str) -> str:
    return f"erpsync:config:{config_id}"


@asynccontextmanager
async def config_lock(pool: asyncpg.Pool[Any], config_id: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A connection holding the config's advisory lock; `SyncBusy` if another run holds it.

    If PostgreSQL cuts that session the lock is gone and another worker may take the run over, so the
    holder is stopped at once (`LockLost`) rather than carrying on beside it.
    """
    async with pool.acquire() as conn:
        locked = await schedules.try_text_lock(conn, config_lock_key(config_id))
        if not locked:
            raise SyncBusy(f"config {config_id!r} is already being synced by another run")
        holder = asyncio.current_task()
        lost = False

        def on_lost(_: object) -> None:
            nonlocal lost
            lost = True
            if holder is not None:
                holder.cancel()

        conn.add_termination_listener(on_lost)
        try:
            yield conn  # type: ignore[misc]
        except asyncio.CancelledError:
            if not lost or holder is None or holder.uncancel() > 0:
                raise
            raise LockLost(
                f"lost the PostgreSQL session holding config {config_id!r}'s lock; "
                "the run is finished by a worker once PostgreSQL is back"
            ) from None
        finally:
            # A session PostgreSQL cut took its locks with it; unlocking there would only raise over
            # the error that cut it.
            with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
                conn.remove_termination_listener(on_lost)
                await schedules.text_unlock(conn, config_lock_key(config_id))
