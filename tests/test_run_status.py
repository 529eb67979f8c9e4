"""One list of run statuses: the `RunStatus` enum is what PostgreSQL lets `sync_runs.status` hold,
and what the code says a run is; no status is spelled out anywhere else in the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.constants import RunStatus

ROOT = Path(__file__).resolve().parents[1]


async def test_the_enum_is_what_the_table_may_hold(db: asyncpg.Connection[Any]) -> None:
    check = await db.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'sync_runs'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'"
    )
    stored = set(re.findall(r"'([a-z_]+)'::text", check))
    assert stored == {status.value for status in RunStatus} - {RunStatus.DRY_RUN.value}


def test_no_run_status_is_spelled_out_in_python() -> None:
    """Statuses in Python code go through `RunStatus` (SQL keeps its own literals, checked above)."""
    spelled = re.compile(r"""(?<![\w.])["'](succeeded|needs_attention|partial|canceled|dry_run)["']""")
    found = []
    for path in sorted((ROOT / "erpsync").rglob("*.py")):
        if path.name == "constants.py" or "db" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            sql = "SELECT" in line or "WHERE" in line
            events = "NotifyEvent" in line or "NOTIFY_EVENTS" in line  # webhook events, named after them
            if spelled.search(line) and not sql and not events:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
