"""A config's life as an operator lives it: shown and applied back unchanged, patched, paused and
resumed, deleted without losing its history, and its old runs pruned by age."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from arq import ArqRedis
from pydantic import SecretStr
from support import REDIS_URL, SECRET_KEY, erpsync

from erpsync.crypto import SecretBox
from erpsync.db.configs import get_config, insert_config
from erpsync.db.pool import create_pool
from erpsync.db.retention import prune_history
from erpsync.models import SyncConfig
from erpsync.scheduler import Scheduler, next_due
from erpsync.settings import DatabaseSettings, Settings

Client = TestClient[Any, Any]
PASSWORD = "ftp-pass-Secr3t"


@pytest.fixture
def cli_env(database_url: str, db: asyncpg.Connection[Any]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
    env.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, ERPSYNC_SECURITY__SECRET_KEY=SECRET_KEY)
    return env


async def stored_password(db: asyncpg.Connection[Any], config_id: str) -> str:
    stored = await get_config(db, SecretBox(SecretStr(SECRET_KEY)), config_id)
    password = stored.config.credentials.password
    assert password is not None
    return password.get_secret_value()


async def test_show_output_applies_back_unchanged_and_from_stdin(
    cli_env: dict[str, str], make_config: Any, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    """`configs show X > f && configs apply f` is a no-op (it was refused: `created_at: Extra inputs
    are not permitted`); `apply -` reads standard input; the masked password keeps the stored one."""
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(make_config()))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    shown = erpsync(cli_env, "configs", "show", "acme-main").stdout
    assert '"created_at"' in shown
    assert '"***"' in shown
    again = tmp_path / "again.json"
    again.write_text(shown)
    applied = erpsync(cli_env, "configs", "apply", str(again))
    assert (applied.returncode, applied.stdout.strip()) == (0, "updated sync config 'acme-main'"), (
        applied.stderr
    )
    edited = json.loads(shown) | {"name": "ACME from stdin"}
    piped = erpsync(cli_env, "configs", "apply", "-", stdin=json.dumps(edited))
    assert piped.returncode == 0, piped.stderr
    after = json.loads(erpsync(cli_env, "configs", "show", "acme-main").stdout)
    before = json.loads(shown)
    assert after["name"] == "ACME from stdin"
    assert {key: value for key, value in after.items() if key not in ("name", "updated_at")} == {
        key: value for key, value in before.items() if key not in ("name", "updated_at")
    }
    assert await stored_password(db, "acme-main") == PASSWORD
    broken = erpsync(cli_env, "configs", "apply", "-", stdin="{not json")
    assert broken.returncode == 65
    assert broken.stderr.startswith("erpsync: standard input is not valid JSON")


async def test_disable_and_enable_pause_the_schedule(
    cli_env: dict[str, str], make_config: Any, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(make_config()))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    paused = erpsync(cli_env, "configs", "disable", "acme-main")
    assert (paused.returncode, paused.stdout.strip()) == (0, "sync config 'acme-main' disabled")
    assert erpsync(cli_env, "configs", "disable", "acme-main").stdout.strip() == (
        "sync config 'acme-main' was already disabled"
    )
    listed = erpsync(cli_env, "configs", "list").stdout
    assert "acme-main                False" in listed, listed
    assert json.loads(erpsync(cli_env, "configs", "show", "acme-main").stdout)["enabled"] is False
    assert await stored_password(db, "acme-main") == PASSWORD
    resumed = erpsync(cli_env, "configs", "enable", "acme-main")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "sync config 'acme-main' enabled")
    assert json.loads(erpsync(cli_env, "configs", "show", "acme-main").stdout)["enabled"] is True
    assert erpsync(cli_env, "configs", "enable", "nope").returncode == 66


async def test_deleting_a_config_keeps_its_runs_unless_purged(
    cli_env: dict[str, str], make_config: Any, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    for config_id in ("kept", "purged"):
        path = tmp_path / f"{config_id}.json"
        path.write_text(json.dumps(make_config(config_id)))
        assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
        run_id = await db.fetchval(
            "INSERT INTO sync_runs (config_id, status, finished_at) VALUES ($1, 'succeeded', now()) RETURNING id",
            config_id,
        )
        await db.execute(
            "INSERT INTO sync_logs (config_id, run_id, level, message) VALUES ($1, $2, 'info', 'done')",
            config_id,
            run_id,
        )
    deleted = erpsync(cli_env, "configs", "delete", "kept")
    assert deleted.stdout.strip() == "deleted sync config 'kept'; its runs and log lines are kept"
    purged = erpsync(cli_env, "configs", "delete", "purged", "--purge")
    assert purged.stdout.strip() == "deleted sync config 'purged'; its runs and log lines deleted too"
    assert erpsync(cli_env, "configs", "list").stdout.strip() == "no sync configs"
    history = erpsync(cli_env, "runs", "kept")
    assert history.returncode == 0, history
    assert "succeeded" in history.stdout
    rows = await db.fetch("SELECT config_id, count(*) AS n FROM sync_logs GROUP BY config_id")
    assert [(row["config_id"], row["n"]) for row in rows] == [("kept", 1)]
    assert erpsync(cli_env, "runs", "purged").returncode == 66


async def test_patch_changes_only_what_it_names(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """`PATCH {"enabled": false}` pauses a config (a PUT needed the whole config); a JSON merge patch
    removes a key with null; read-only fields sent back are ignored; the password stays."""
    created = await (await api.post("/configs", json=make_config())).json()
    response = await api.patch(
        "/configs/acme-main",
        data=json.dumps({"enabled": False, "created_at": "2020-01-01T00:00:00Z"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status == 200, await response.text()
    patched = await response.json()
    assert patched["enabled"] is False
    same = ("enabled", "updated_at")
    assert {k: v for k, v in patched.items() if k not in same} == {
        k: v for k, v in created.items() if k not in same
    }
    assert await stored_password(db, "acme-main") == PASSWORD
    removed = await (await api.patch("/configs/acme-main", json={"mapping": {"title": None}})).json()
    assert "title" not in removed["mapping"]
    assert removed["mapping"]["variant.sku"] == "SKU"
    wrong_id = await api.patch("/configs/acme-main", json={"id": "other"})
    assert wrong_id.status == 422
    invalid = await api.patch("/configs/acme-main", json={"sync_frequency": -1})
    assert invalid.status == 422
    assert (await api.patch("/configs/nope", json={"enabled": True})).status == 404
    shown = await (await api.get("/configs/acme-main")).json()
    assert (await api.put("/configs/acme-main", json=shown)).status == 200, "GET's body is PUT's"
    assert (await api.delete("/configs/acme-main?purge=maybe")).status == 400
    assert (await api.delete("/configs/acme-main?purge=true")).status == 204


def test_first_run_waits_one_interval_when_the_setting_says_schedule() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    created = now - timedelta(hours=1)
    assert next_due(hours=6, cron=None, last_start=None, now=now, enabled_at=created) == now
    assert next_due(
        hours=6, cron=None, last_start=None, now=now, enabled_at=created, first_run="schedule"
    ) == created + timedelta(hours=6)
    assert next_due(
        hours=None, cron="0 3 * * *", last_start=None, now=now, enabled_at=created, first_run="schedule"
    ) == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    # Enabled again after a long pause: one interval after enabling, not at once.
    long_ago = now - timedelta(days=30)
    assert next_due(
        hours=6, cron=None, last_start=long_ago, now=now, enabled_at=created, first_run="schedule"
    ) == created + timedelta(hours=6)
    assert next_due(
        hours=6, cron=None, last_start=long_ago, now=now, enabled_at=created
    ) == long_ago + timedelta(hours=6)


async def test_a_new_config_is_not_run_at_once_with_first_run_schedule(
    settings: Settings, db: asyncpg.Connection[Any], make_config: Any, clean_redis: ArqRedis
) -> None:
    box = SecretBox(settings.security.secret_key)
    await insert_config(db, box, SyncConfig.model_validate(make_config("alpha")))
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3))
    waiting = Scheduler(pool, clean_redis, first_run="schedule")
    try:
        await waiting.reconcile()
        assert await db.fetchval("SELECT count(*) FROM sync_runs") == 0
        due = waiting.next_runs()["alpha"]
        assert abs((due - (datetime.now(UTC) + timedelta(hours=24))).total_seconds()) < 60
    finally:
        await waiting.stop()
    at_once = Scheduler(pool, clean_redis)
    try:
        await at_once.reconcile()
        assert await db.fetchval("SELECT count(*) FROM sync_runs WHERE status = 'queued'") == 1
    finally:
        await at_once.stop()
        await pool.close()


async def test_old_runs_and_lines_are_pruned_but_each_config_keeps_its_latest(
    db: asyncpg.Connection[Any], make_config: Any, settings: Settings
) -> None:
    """Past `journal_days` runs go with their lines, except each config's latest run (the schedule
    counts from it) and latest succeeded run (a run compares its feed with it), however old."""
    box = SecretBox(settings.security.secret_key)
    for config_id in ("busy", "idle"):
        await insert_config(db, box, SyncConfig.model_validate(make_config(config_id)))
    old = datetime.now(UTC) - timedelta(days=100)

    async def run(config_id: str, status: str, finished: datetime) -> int:
        run_id = int(
            await db.fetchval(
                "INSERT INTO sync_runs (config_id, status, queued_at, finished_at) VALUES ($1, $2, $3, $3) "
                "RETURNING id",
                config_id,
                status,
                finished,
            )
        )
        await db.execute(
            "INSERT INTO sync_logs (config_id, run_id, level, message, created_at) VALUES ($1, $2, 'info', 'l', $3)",
            config_id,
            run_id,
            finished,
        )
        return run_id

    for day in range(3):
        await run("busy", "succeeded" if day % 2 else "failed", old + timedelta(days=day))
    recent = [
        await run("busy", "succeeded", datetime.now(UTC)),
        await run("busy", "failed", datetime.now(UTC)),
    ]
    await run("idle", "succeeded", old)
    idle_good = await run("idle", "succeeded", old + timedelta(days=1))
    idle_last = await run("idle", "failed", old + timedelta(days=2))
    await db.execute(
        "INSERT INTO sync_logs (config_id, level, message, created_at) VALUES ('idle', 'info', 'x', $1)", old
    )
    runs, lines, _ = await prune_history(db, datetime.now(UTC) - timedelta(days=90), batch=2)
    kept = [row["id"] for row in await db.fetch("SELECT id FROM sync_runs ORDER BY id")]
    assert kept == [*recent, idle_good, idle_last]
    assert (runs, lines) == (4, 3)  # the kept old runs' lines are old too; a pruned run's go with it
    assert await db.fetchval("SELECT count(*) FROM sync_logs") == 2
