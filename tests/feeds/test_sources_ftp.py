"""FTP and FTPS sources against a real pyftpdlib server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from feed_support import CUT_AFTER, FTP_PASSWORD, FTP_USER, FtpServer, free_port, make_config

from erpsync.sources import open_feed
from erpsync.sources.base import BLOCK_SIZE
from erpsync.sources.errors import (
    SourceAuthError,
    SourceCut,
    SourceNotFound,
    SourceRefused,
    SourceTimeout,
    SourceTrustError,
)


def ftp_config(port: int, path: str, *, kind: str = "ftp", **credentials: Any) -> Any:
    """A config pointing at the loopback FTP server."""
    values = {
        "host": "127.0.0.1",
        "port": port,
        "username": FTP_USER,
        "password": FTP_PASSWORD,
        "filePath": path,
    }
    values.update(credentials)
    return make_config(connection_type=kind, credentials=values)


async def fetch(config: Any, **options: Any) -> tuple[bytes, Any, list[int]]:
    """The whole feed, its FeedInfo and the sizes of the chunks it came in."""
    sizes: list[int] = []
    body = bytearray()
    async with open_feed(config, retry_delay=0, **options) as stream:
        async for chunk in stream:
            sizes.append(len(chunk))
            body += chunk
        return bytes(body), stream.info(), sizes


async def test_sources_ftp_streams_with_size_and_hash(ftp_server: FtpServer) -> None:
    """A feed arrives whole, in large blocks, with its size and SHA-256 for skipping an identical feed."""
    content = os.urandom(3 * BLOCK_SIZE + 12345)
    (ftp_server.root / "products.csv").write_bytes(content)
    body, info, sizes = await fetch(ftp_config(ftp_server.port, "/products.csv"))
    assert body == content
    assert (info.size, info.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert info.name == "/products.csv"
    assert info.mtime is not None
    # Large reads, not 8 KiB ones: a block holds whatever arrived, up to BLOCK_SIZE.
    assert 64 * 1024 < max(sizes) <= BLOCK_SIZE


async def test_sources_ftp_glob_takes_newest(ftp_server: FtpServer) -> None:
    """`/export/products_*.csv` fetches the most recent export, not an old one."""
    export = ftp_server.root / "export"
    export.mkdir()
    now = time.time()
    for index, name in enumerate(["products_2.csv", "products_3.csv", "products_1.csv", "other.csv"]):
        (export / name).write_bytes(name.encode())
        stamp = now - 1000 + index * 100 if name != "products_3.csv" else now
        os.utime(export / name, (stamp, stamp))
    body, info, _ = await fetch(ftp_config(ftp_server.port, "/export/products_*.csv"))
    assert (body, info.name) == (b"products_3.csv", "/export/products_3.csv")


@pytest.mark.parametrize(
    ("credentials", "path", "error", "fragment"),
    [({"password": "wrong"}, "/a.csv", SourceAuthError, "login refused"),
     ({}, "/missing.csv", SourceNotFound, "no such file"),
     ({}, "/nothing_*.csv", SourceNotFound, "no file matches")],
)  # fmt: skip
async def test_sources_ftp_errors(
    ftp_server: FtpServer, credentials: dict[str, Any], path: str, error: type[Exception], fragment: str
) -> None:
    """Wrong password and missing file are told apart, each naming host and path."""
    (ftp_server.root / "a.csv").write_bytes(b"x")
    with pytest.raises(error) as caught:
        await fetch(ftp_config(ftp_server.port, path, **credentials))
    assert f"127.0.0.1:{path}" in str(caught.value)
    assert fragment in str(caught.value)
    assert FTP_PASSWORD not in str(caught.value)


async def test_sources_ftp_refused_is_retried_then_reported() -> None:
    """Nothing listening: retried a bounded number of times, then a refused error naming the host."""
    attempts: list[int] = []
    from erpsync.sources.ftp import open_ftp

    def counting(_config: Any) -> Any:
        def opener(config: Any, *, previous: Any) -> Any:
            attempts.append(1)
            return open_ftp(config, previous=previous)

        return opener

    with pytest.raises(SourceRefused, match=re.escape("127.0.0.1:/a.csv")):
        await fetch(ftp_config(free_port(), "/a.csv"), attempts=3, opener=counting)
    assert len(attempts) == 3


async def test_sources_ftp_timeout(silent_server: int) -> None:
    """A server that never answers gives a timeout error after the configured time, not a hang."""
    with pytest.raises(SourceTimeout, match="no answer"):
        await fetch(ftp_config(silent_server, "/a.csv", timeout=0.3), attempts=1)


async def test_sources_ftp_transfer_cut(ftp_server: FtpServer) -> None:
    """A download that ends short of the announced size is a cut transfer, never a smaller feed."""
    (ftp_server.root / "cut.csv").write_bytes(b"x" * (CUT_AFTER * 4))
    with pytest.raises(SourceCut, match=f"after {CUT_AFTER} of {CUT_AFTER * 4} bytes"):
        await fetch(ftp_config(ftp_server.port, "/cut.csv"))


async def test_sources_ftps_explicit_tls(ftps_server: FtpServer) -> None:
    """FTPS with verify: false downloads over explicit TLS from a self-signed server."""
    content = b"sku,name\nA,x\n" * 1000
    (ftps_server.root / "feed.csv").write_bytes(content)
    body, info, _ = await fetch(ftp_config(ftps_server.port, "/feed.csv", kind="ftps", verify=False))
    assert body == content
    assert info.sha256 == hashlib.sha256(content).hexdigest()


async def test_sources_ftps_verifies_certificate(ftps_server: FtpServer) -> None:
    """An untrusted certificate is refused unless the config says verify: false."""
    (ftps_server.root / "feed.csv").write_bytes(b"x")
    with pytest.raises(SourceTrustError, match="certificate"):
        await fetch(ftp_config(ftps_server.port, "/feed.csv", kind="ftps"), attempts=1)


async def test_sources_ftp_feed_is_parsed(ftp_server: FtpServer, tmp_path: Path) -> None:
    """The stream plugs straight into the record reader."""
    from erpsync.feeds import read_records

    (ftp_server.root / "feed.jsonl").write_bytes(b'{"sku": "A"}\n{"sku": "B"}\n')
    config = ftp_config(ftp_server.port, "/feed.jsonl")
    async with open_feed(config) as stream:
        records = [
            record
            async for batch in read_records(
                stream, name=stream.name, format=None, options=config.format_options
            )
            for record in batch.records
        ]
    assert records == [{"sku": "A"}, {"sku": "B"}]
