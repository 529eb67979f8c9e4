"""`erpsync serve` when what it needs is not there: one line and a documented status, never a
traceback; an outage it rides out is said once, not every second; SIGTERM still stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from support import REDIS_URL, SECRET_KEY


def _env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        ERPSYNC_SECURITY__SECRET_KEY=SECRET_KEY,
        ERPSYNC_SYNC__WORK_DIR=str(tmp_path),
        ERPSYNC_LOG__FORMAT="json",
    )
    env.update(extra)
    return env


def test_a_port_in_use_is_one_line_and_status_69(
    database_url: str, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "erpsync", "serve"],
            env=_env(database_url, tmp_path, PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 69, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"erpsync: the API cannot listen on 127.0.0.1:{port} (address already in use); "
        "stop the other process there, or set [api] port or host"
    )


def test_redis_down_is_said_once_and_sigterm_still_stops_cleanly(
    database_url: str, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        dead = nobody.getsockname()[1]  # bound, never listening: connections are refused
        process = subprocess.Popen(
            [sys.executable, "-m", "erpsync", "serve"],
            env=_env(database_url, tmp_path, PORT=str(port), REDIS_URL=f"redis://127.0.0.1:{dead}/0"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(6)  # the worker tries Redis again and again meanwhile
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in out + err
    assert "PostgreSQL" not in err, err[-3000:]
    said = (out + err).count("the worker lost Redis")
    assert said == 1, (out + err)[-3000:]
