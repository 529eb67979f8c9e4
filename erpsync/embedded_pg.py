"""A PostgreSQL of the demo's own, for a machine that has no PostgreSQL server to reach.

`pgserver` (a wheel from the package index that carries PostgreSQL's binaries, in the `demo` and
`dev` extras) initialises a data directory under a temporary directory, serves it on a Unix socket
there (no TCP port, nothing reachable from elsewhere) and is stopped, and the directory removed,
when the demo ends. Only `erpsync demo` uses it; the service always talks to a real server.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from erpsync.db.pool import create_database_statement
from erpsync.errors import DatabaseError

PREFIX = "erpsync-demo-pg-"
SHORT_TMP = "/tmp"  # noqa: S108 - a private directory is made inside it
INSTALL_HINT = "pip install 'erpsync[demo]' for an embedded one (from a checkout: make install)"


def _pgserver() -> Any | None:
    """The pgserver module, or None where it is not installed. platformdirs, which it uses, warns
    about XDG_RUNTIME_DIR at import and on start; that warning is not the operator's concern."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        return None
    return pgserver


def available() -> bool:
    return _pgserver() is not None


def _start(pgserver: Any, data: Path) -> Any:
    """initdb (the first time) and start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgserver.get_server(str(data), cleanup_mode="stop")


@asynccontextmanager
async def embedded_postgres(database: str) -> AsyncIterator[str]:
    """A running embedded server while the block runs; yields the URL of `database` on it."""
    pgserver = _pgserver()
    if pgserver is None:
        raise DatabaseError(f"no PostgreSQL server to reach, and none embedded: {INSTALL_HINT}")
    # The server's socket lives in its data directory, and a Unix socket's path may not pass 107
    # bytes: a short temporary directory, whatever TMPDIR says.
    short = SHORT_TMP if os.access(SHORT_TMP, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=PREFIX, dir=short) as tmp:
        data = Path(tmp) / "pgdata"
        try:
            server: Any = await asyncio.to_thread(_start, pgserver, data)
        except Exception as exc:  # pgserver raises what initdb or pg_ctl said, in several kinds
            raise DatabaseError(f"the demo's embedded PostgreSQL did not start: {exc}") from None
        try:
            await asyncio.to_thread(server.psql, create_database_statement(database) + ";")
            yield f"postgresql://postgres@localhost/{database}?host={quote(str(data), safe='/')}"
        finally:
            await asyncio.to_thread(server.cleanup)
