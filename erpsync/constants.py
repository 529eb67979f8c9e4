"""Names shared across modules: advisory lock ids, Redis keys, run statuses."""

from __future__ import annotations

from typing import Final

# PostgreSQL advisory lock keys (pg_advisory_lock takes a bigint); one constant per purpose.
MIGRATION_LOCK_ID: Final = 0x6572_7073_796E_6301  # "erpsync" + 1
SCHEDULER_LOCK_ID: Final = 0x6572_7073_796E_6302

# Redis keys and prefixes.
ARQ_QUEUE_NAME: Final = "erpsync:queue"
SYNC_JOB_PREFIX: Final = "erpsync:sync:"
CONFIG_LOCK_PREFIX: Final = "erpsync:lock:config:"

RUN_STATUSES: Final = ("queued", "running", "succeeded", "partial", "needs_attention", "failed", "canceled")
FINISHED_STATUSES: Final = frozenset({"succeeded", "partial", "needs_attention", "failed", "canceled"})
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
