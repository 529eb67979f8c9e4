"""Fixtures of the feed tests; the helpers they use live in `feed_support`."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from feed_support import FtpServer, make_config, self_signed_cert, start_ftp

from erpsync.models import SyncConfig


@pytest.fixture(params=["c", "python"])
def speedups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with erpsync's C loops and again with their pure-Python twins, which a build
    without a C compiler uses: both must give the same records, repeats and errors."""
    if request.param == "c" and importlib.util.find_spec("erpsync._speedups") is None:
        pytest.skip("erpsync._speedups was not built (no C compiler): the Python twins run alone")
    if request.param == "python":
        from erpsync import speedups as loops

        for name in loops.NAMES:
            monkeypatch.setattr(loops, name, None)
    return str(request.param)


@pytest.fixture
def config_factory() -> Callable[..., SyncConfig]:
    """The config factory, for tests that prefer a fixture."""
    return make_config


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    """A plain FTP server on 127.0.0.1 serving tmp_path/ftp."""
    root = tmp_path / "ftp"
    root.mkdir()
    yield from start_ftp(root, tls_cert=None)


@pytest.fixture
def ftps_server(tmp_path: Path) -> Iterator[FtpServer]:
    """An FTPS (explicit TLS) server on 127.0.0.1 with a self-signed certificate."""
    root = tmp_path / "ftps"
    root.mkdir()
    yield from start_ftp(root, tls_cert=self_signed_cert(tmp_path))


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word (for timeout tests)."""
    writers = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    yield port
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
