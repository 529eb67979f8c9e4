"""A long sync shows where it is: the bar moves while Shopify processes a bulk operation, not only
once its results are read, and log lines on a terminal never glue onto the bar."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from shop_support import Configs, flat_rows

from erpsync.cli_sync import BesideProgress, ProgressLine, progress_line
from erpsync.db.pool import create_pool
from erpsync.settings import DatabaseSettings, Settings


@pytest.fixture
async def pool(settings: Settings, db: asyncpg.Connection[Any]) -> AsyncIterator[asyncpg.Pool[Any]]:
    opened = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=5))
    yield opened
    await opened.close()


async def test_progress_moves_while_shopify_processes_the_operation(
    settings: Settings, pool: asyncpg.Pool[Any], start_shopify: Any, tmp_path: Path
) -> None:
    simulator = await start_shopify(bulk_rate=60.0)  # 40 lines take Shopify most of a second
    configs = Configs(settings, pool, tmp_path, simulator)
    feed = await configs.add("acme")
    feed.write(flat_rows(40))
    seen: list[dict[str, Any]] = []

    async def on_progress(values: dict[str, Any]) -> None:
        seen.append(dict(values))

    result = await feed.sync(on_progress=on_progress)
    assert result.counts["created"] == 40, result
    publishing = [values for values in seen if values.get("bulk_lines_total")]
    early = [
        values
        for values in publishing
        if values.get("bulk_lines_processed", 0) > 0 and values["bulk_lines_done"] == 0
    ]
    assert early, publishing  # the bar moved before any result was read
    assert publishing[-1]["bulk_lines_done"] == 40
    assert "40/40 bulk lines processed, 40 recorded" in progress_line(publishing[-1])


def test_a_log_line_takes_the_bar_away_and_puts_it_back() -> None:
    terminal = io.StringIO()
    bar = ProgressLine(terminal)
    logs = BesideProgress(terminal, bar)
    bar.show(progress_line({"bulk_lines_total": 10, "bulk_lines_processed": 5, "bulk_lines_done": 0}))
    logs.write("warning: the shop answered slowly\n")
    bar.clear()
    shown = terminal.getvalue()
    line, rest = shown.split("warning: the shop answered slowly\n")
    assert line.endswith("\r\x1b[2K"), "the bar was cleared before the log line"
    assert rest.startswith("\r\x1b[2Kpublishing [###############...............] 5/10 bulk lines processed")
    assert rest.endswith("\r\x1b[2K"), "and cleared at the end"
