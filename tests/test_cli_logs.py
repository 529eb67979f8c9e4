"""`erpsync logs`: what runs said, read from PostgreSQL by the operator's own command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import asyncpg
import pytest
from support import REDIS_URL, SECRET_KEY, erpsync

from erpsync.crypto import SecretBox
from erpsync.db.configs import insert_config
from erpsync.db.logs import add_log
from erpsync.models import SyncConfig
from erpsync.settings import Settings


@pytest.fixture
async def cli_env(
    database_url: str, db: asyncpg.Connection[Any], settings: Settings, make_config: Any
) -> dict[str, str]:
    box = SecretBox(settings.security.secret_key)
    for config_id in ("acme", "other"):
        await insert_config(db, box, SyncConfig.model_validate(make_config(config_id)))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
    env.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, ERPSYNC_SECURITY__SECRET_KEY=SECRET_KEY)
    return env


async def test_logs_of_a_config_oldest_first_filtered_and_as_json(
    cli_env: dict[str, str], db: asyncpg.Connection[Any]
) -> None:
    run_id = await db.fetchval(
        "INSERT INTO sync_runs (config_id, status) VALUES ('acme', 'failed') RETURNING id"
    )
    await add_log(db, config_id="acme", run_id=None, level="info", message="first")
    await add_log(db, config_id="acme", run_id=run_id, level="error", message="price not a number", sku="A-1")
    await add_log(db, config_id="other", run_id=None, level="error", message="not mine")
    shown = erpsync(cli_env, "logs", "acme")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "info    acme: first",
        f"error   acme run {run_id} A-1: price not a number",
    ]
    assert erpsync(cli_env, "logs", "acme", "--level", "warning").stdout.count("\n") == 1
    assert "first" not in erpsync(cli_env, "logs", "--run", str(run_id)).stdout
    records = [json.loads(line) for line in erpsync(cli_env, "logs", "--json").stdout.splitlines()]
    assert [(item["config_id"], item["message"]) for item in records] == [
        ("acme", "first"),
        ("acme", "price not a number"),
        ("other", "not mine"),
    ]
    assert erpsync(cli_env, "logs", "nope").returncode == 66


async def test_follow_prints_new_lines_until_interrupted(
    cli_env: dict[str, str], db: asyncpg.Connection[Any]
) -> None:
    await add_log(db, config_id="acme", run_id=None, level="info", message="before")
    process = subprocess.Popen(  # noqa: ASYNC220 - read line by line while the test writes
        [sys.executable, "-m", "erpsync", "logs", "acme", "--follow"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().rstrip().endswith("acme: before")
        await add_log(db, config_id="other", run_id=None, level="info", message="not this one")
        await add_log(db, config_id="acme", run_id=None, level="warning", message="after")
        deadline = time.monotonic() + 30
        line = process.stdout.readline()
        assert time.monotonic() < deadline
        assert line.rstrip().endswith("acme: after"), line
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
