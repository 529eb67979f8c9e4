"""`erpsync demo` on a machine with no PostgreSQL to reach: it starts one of its own, runs the whole
job, and stops it again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_on_an_embedded_postgresql_when_none_answers(tmp_path: Path) -> None:
    """`make demo` needs no database server: with none reachable, the demo says so, starts its own
    (a long TMPDIR does not matter: the server's socket goes in a short directory), syncs twice and
    removes it afterwards."""
    before = set(Path("/tmp").glob("erpsync-demo-pg-*"))
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))  # bound, never listening: PostgreSQL "is not there"
        unreachable = f"postgresql://postgres@127.0.0.1:{nobody.getsockname()[1]}/erpsync_demo"
        env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
        env.update(DATABASE_URL=unreachable, ERPSYNC_LOG__LEVEL="warning", TMPDIR=str(tmp_path))
        done = subprocess.run(
            [sys.executable, "-m", "erpsync", "demo", "--products", "12"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    port = unreachable.rsplit(":", 1)[1].split("/", 1)[0]
    assert (
        lines[0]
        == f"no PostgreSQL at postgres@127.0.0.1:{port}/erpsync_demo: the demo starts an embedded one"
    )
    assert any(line.startswith("first sync: succeeded - created 12,") for line in lines), done.stdout
    assert any(line.startswith("second sync: succeeded - created 1,") for line in lines), done.stdout
    assert "Traceback" not in done.stderr
    assert "RuntimeDirWarning" not in done.stderr
    assert set(Path("/tmp").glob("erpsync-demo-pg-*")) == before, "stopped and removed"
