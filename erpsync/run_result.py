"""What a run hands back, and the seconds it spent in each stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncResult:
    run_id: int
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    error: str | None = None
    details: dict[str, Any] | None = None
    retryable: bool = False


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
