"""Webhook notifications: a config's runs start failing, need attention or go partial; later, they
are well again. Each is said once per open problem, to every webhook that wants that event.

The process that schedules (the leader) looks at every finished run once (`sync_runs.notified`),
whichever process ran it — the daemon's worker or `erpsync sync` from a shell — and compares its
outcome with the config's open problem in `notify_states`. What must be said is stored first and
delivered after, so a receiver that is down, or a restart, loses nothing: a delivery is tried again
with a doubling wait, up to `[notify] max_attempts`. Bodies are JSON, signed with the webhook's
secret (`X-Erpsync-Signature: sha256=<HMAC-SHA256 of the body>`), and carry `X-Erpsync-Delivery`
(the same id on every try) so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import aiohttp
import asyncpg

from erpsync.constants import GOOD_STATUSES, PROBLEM_STATUSES
from erpsync.db import notifications as store
from erpsync.logs import get_logger, register_secret
from erpsync.settings import NotifySettings, Settings

log = get_logger("erpsync.notify")

REASON_COUNTS = ("rows_rejected", "failed", "conflicts", "deletes_held")


def signature(secret: str, body: bytes) -> str:
    """The `X-Erpsync-Signature` value: what a receiver recomputes with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Notifier:
    """Turns finished runs into notifications and delivers them; one per leading scheduler."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool[Any]) -> None:
        self.settings: NotifySettings = settings.notify
        self.pool = pool
        self.api_url = (self.settings.api_url or f"http://{settings.api.host}:{settings.api.port}").rstrip(
            "/"
        )
        self.secrets = {
            hook.url: hook.secret.get_secret_value()
            for hook in self.settings.webhooks
            if hook.secret is not None
        }
        for secret in self.secrets.values():
            register_secret(secret)
        self._session: aiohttp.ClientSession | None = None

    async def tick(self) -> None:
        """Look at the runs that finished since the last tick, then send what is due."""
        await self.collect()
        if self.settings.webhooks:
            await self.deliver()

    async def collect(self) -> None:
        async with self.pool.acquire() as conn:
            for run in await store.unnotified_runs(conn):
                async with conn.transaction():
                    await self._look_at(conn, run)
                    await store.mark_notified(conn, run.id)

    async def _look_at(self, conn: Any, run: store.FinishedRun) -> None:
        if run.status not in (*PROBLEM_STATUSES, *GOOD_STATUSES):
            return  # a canceled run says nothing of the config's health
        problem = await store.open_problem(conn, run.config_id)
        # An `unchanged` run only follows a config's succeeded run (db/fingerprints.py), which closed any
        # open problem already: it says "recovered" only if that run's notice is still to come.
        if run.status in GOOD_STATUSES:
            if problem is None:
                return
            event, now_open = "recovered", None
        else:
            if run.status == problem:
                return  # the same problem, still open: said already
            event, now_open = run.status, run.status
        await store.set_problem(conn, run.config_id, now_open, run.id)
        payload = self.payload(event, run, problem)
        for hook in self.settings.webhooks:
            if event in hook.events:
                await store.add_notification(
                    conn,
                    config_id=run.config_id,
                    run_id=run.id,
                    event=event,
                    webhook=hook.url,
                    payload=payload,
                )

    def payload(self, event: str, run: store.FinishedRun, before: str | None) -> dict[str, Any]:
        return {
            "event": event,
            "config_id": run.config_id,
            "run_id": run.id,
            "status": run.status,
            "previous_problem": before,
            "reason": run.error or _summary(run.counts),
            "counts": {
                key: run.counts[key]
                for key in ("created", "updated", "deleted", *REASON_COUNTS)
                if key in run.counts
            },
            "finished_at": run.finished_at.isoformat(),
            "run_url": f"{self.api_url}/runs/{run.id}",
        }

    async def deliver(self) -> None:
        async with self.pool.acquire() as conn:
            due = await store.due_notifications(conn, max_attempts=self.settings.max_attempts)
        for item in due:
            error = await self._post(item)
            async with self.pool.acquire() as conn:
                if error is None:
                    await store.mark_delivered(conn, item.id)
                    continue
                wait = self.settings.retry_base_delay * 2**item.attempts
                await store.mark_failed(conn, item.id, error, wait)
            if item.attempts + 1 >= self.settings.max_attempts:
                log.error(
                    "a notification was not delivered; giving up",
                    webhook=item.webhook,
                    event=item.event,
                    error=error,
                )
            else:
                log.warning(
                    "a notification was not delivered; trying again",
                    webhook=item.webhook,
                    error=error,
                    retry_in=wait,
                )

    async def _post(self, item: store.Due) -> str | None:
        """None when the receiver took it (any 2xx), else what went wrong."""
        body = item.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Erpsync-Event": item.event,
            "X-Erpsync-Delivery": str(item.id),
        }
        if (secret := self.secrets.get(item.webhook)) is not None:
            headers["X-Erpsync-Signature"] = signature(secret, body)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        try:
            async with self._session.post(item.webhook, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _summary(counts: dict[str, Any]) -> str | None:
    parts = [f"{counts[key]} {key.replace('_', ' ')}" for key in REASON_COUNTS if counts.get(key)]
    return ", ".join(parts) or None
