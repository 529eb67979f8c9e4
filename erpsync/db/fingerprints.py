"""`source_fingerprints`: what a config's source said of the feed its last succeeded run synced.

A fingerprint is written only when a run ended `succeeded` — every product written as the feed says — and
it holds only while every later run of the config ended `unchanged` (or was a revert): a partial, failed,
held or canceled run since, a product whose owner mark is not written, a config edited since or a changed write context
each mean the next run does the work again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from erpsync.db.pool import Executor
from erpsync.db.products import COUNT_UNMARKED
from erpsync.sources import FeedInfo

SELECT_FINGERPRINT = "SELECT * FROM source_fingerprints WHERE config_id = $1"
UPSERT_FINGERPRINT = """
INSERT INTO source_fingerprints
    (config_id, run_id, feed_name, validator, feed_sha256, feed_bytes, config_version, context_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT context_hash FROM config_states WHERE config_id = $1))
ON CONFLICT (config_id) DO UPDATE SET
    run_id = EXCLUDED.run_id, feed_name = EXCLUDED.feed_name, validator = EXCLUDED.validator,
    feed_sha256 = EXCLUDED.feed_sha256, feed_bytes = EXCLUDED.feed_bytes,
    config_version = EXCLUDED.config_version, context_hash = EXCLUDED.context_hash, synced_at = now()
"""
# The same bytes under a new validator (a file written again, a new ETag): the next run needs only the
# validator to know it.
SET_VALIDATOR = "UPDATE source_fingerprints SET validator = $2 WHERE config_id = $1 AND feed_sha256 = $3"
SELECT_CONTEXT_HASH = "SELECT context_hash FROM config_states WHERE config_id = $1"
# The config's last run since the fingerprint's that did something and did not end `unchanged` (a queued
# run canceled before it started did nothing). A revert is no such run: it put products back on purpose,
# and the feed it would read again is the one it reverted (`erpsync.revert`).
SELECT_LATER_RUN = """
SELECT id, status FROM sync_runs
WHERE config_id = $1 AND NOT dry_run AND id > $2 AND id <> $3 AND finished_at IS NOT NULL
  AND started_at IS NOT NULL AND status <> 'unchanged' AND trigger <> 'revert'
ORDER BY id DESC LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    run_id: int | None
    feed_name: str
    validator: dict[str, Any] | None
    feed_sha256: str
    feed_bytes: int
    config_version: str
    context_hash: str | None

    def previous(self) -> FeedInfo:
        """The synced feed as a source compares with it."""
        validator = self.validator or {}
        return FeedInfo(
            name=self.feed_name,
            size=self.feed_bytes,
            sha256=self.feed_sha256,
            etag=validator.get("etag"),
            last_modified=validator.get("last_modified"),
            validator=self.validator,
        )


async def read_fingerprint(conn: Executor, config_id: str) -> Fingerprint | None:
    row = await conn.fetchrow(SELECT_FINGERPRINT, config_id)
    if row is None:
        return None
    return Fingerprint(
        run_id=row["run_id"],
        feed_name=row["feed_name"],
        validator=row["validator"],
        feed_sha256=row["feed_sha256"],
        feed_bytes=int(row["feed_bytes"]),
        config_version=row["config_version"],
        context_hash=row["context_hash"],
    )


async def save_fingerprint(
    conn: Executor, config_id: str, run_id: int, info: FeedInfo, *, config_version: str
) -> None:
    """After a succeeded run: its feed, and the config and write context it was synced with."""
    await conn.execute(
        UPSERT_FINGERPRINT,
        config_id,
        run_id,
        info.name,
        info.validator,
        info.sha256,
        info.size,
        config_version,
    )


async def set_validator(conn: Executor, config_id: str, info: FeedInfo) -> None:
    await conn.execute(SET_VALIDATOR, config_id, info.validator, info.sha256)


async def work_besides_feed(
    conn: Executor, config_id: str, run_id: int, fingerprint: Fingerprint, *, config_version: str
) -> str | None:
    """Why the run must do its work even if the feed is the synced one; None when nothing needs it."""
    if fingerprint.run_id is None:
        return "the run that synced the feed is no longer kept"
    if fingerprint.config_version != config_version:
        return "the config (or erpsync's hash version or shop) changed since the feed was synced"
    if await conn.fetchval(SELECT_CONTEXT_HASH, config_id) != fingerprint.context_hash:
        return "the write context changed since the feed was synced"
    later = await conn.fetchrow(SELECT_LATER_RUN, config_id, fingerprint.run_id, run_id)
    if later is not None:
        return f"run {later['id']} ended {later['status']} since the feed was synced: its work is retried"
    if int(await conn.fetchval(COUNT_UNMARKED, config_id)):
        return "products wait for their owner mark"
    return None
