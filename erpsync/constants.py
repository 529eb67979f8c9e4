"""Names shared across modules: advisory lock ids, Redis keys, run statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

# PostgreSQL advisory lock keys (pg_advisory_lock takes a bigint); one constant per purpose.
MIGRATION_LOCK_ID: Final = 0x6572_7073_796E_6301  # "erpsync" + 1
SCHEDULER_LOCK_ID: Final = 0x6572_7073_796E_6302

# Redis keys and prefixes.
ARQ_QUEUE_NAME: Final = "erpsync:queue"
SYNC_JOB_PREFIX: Final = "erpsync:sync:"


# Bump when the bytes a product's content hash is taken of change (`erpsync.mapping.drafts`), so every
# product is rewritten once rather than never. Here, not there: the unchanged-feed check needs it without
# importing the mapper.
HASH_VERSION: Final = 1


class RunStatus(StrEnum):
    """Every status a run has: stored in `sync_runs.status` (its CHECK constraint lists the same
    values), handed back in `SyncResult.status`, shown by the API and mapped to exit codes."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    NEEDS_ATTENTION = "needs_attention"
    FAILED = "failed"
    CANCELED = "canceled"
    # The feed is the one already synced and nothing else needed work: nothing was parsed or sent.
    UNCHANGED = "unchanged"
    # Only handed back, never stored: a dry run's plan (its row is rolled back).
    DRY_RUN = "dry_run"


# The outcomes that say something is wrong with a config's syncs (notifications, alerts).
PROBLEM_STATUSES: Final = (RunStatus.FAILED, RunStatus.NEEDS_ATTENTION, RunStatus.PARTIAL)
# The outcomes that say the shop holds the feed as it is: a run that wrote all of it, or found it unchanged.
GOOD_STATUSES: Final = (RunStatus.SUCCEEDED, RunStatus.UNCHANGED)
