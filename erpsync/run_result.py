"""What a run hands back, and the seconds it spent in each stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from erpsync.constants import RunStatus


@dataclass
class SyncResult:
    run_id: int
    status: RunStatus
    counts: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    error: str | None = None
    details: dict[str, Any] | None = None
    retryable: bool = False


# --- bulk result lines ---
@dataclass
class LineCounts:
    """A run's result lines beyond created/updated/failed: `retried` products were sent again after a
    transient line error (`failed_transient` of them failed all the same: the bound reached, or a
    refusal on a later attempt); `failed_mismatch`
    lines were answered with another line's product and not recorded (`mismatched_skus`, the first 20).
    The rest of `failed` is the shop refusing the input (userErrors)."""

    retried: int = 0
    failed_transient: int = 0
    failed_mismatch: int = 0
    mismatched_skus: list[str] = field(default_factory=list)

    def as_counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "retried": self.retried,
            "failed_transient": self.failed_transient,
            "failed_mismatch": self.failed_mismatch,
        }
        if self.mismatched_skus:
            counts["mismatched_skus"] = self.mismatched_skus
        return counts


@dataclass
class Stopwatch:
    """Seconds per stage, in the order the stages ran."""

    timings: dict[str, float] = field(default_factory=dict)
    stage: str = ""
    _started: float = field(default_factory=time.monotonic)

    def enter(self, stage: str) -> tuple[str, float]:
        now = time.monotonic()
        finished, seconds = self.stage, now - self._started
        if finished:
            self.timings[finished] = round(self.timings.get(finished, 0.0) + seconds, 3)
        self.stage, self._started = stage, now
        return finished, seconds
