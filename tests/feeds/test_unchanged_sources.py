"""An unchanged feed over HTTP, FTP and SFTP: the second run asks the source (a conditional GET, the file's
modification time and size, its stat), gets "the same file" and ends `unchanged` with 0 feed bytes sent by
the server — counted by the server itself — and nothing asked of or written to the shop.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from aiohttp import web
from feed_support import FTP_PASSWORD, FTP_USER, FtpServer, start_ftp
from shop_support import ConfigFeed, MakeFeed, flat_rows

ETAG = '"feed-v1"'


def aged(path: Path, seconds: float = 60.0) -> None:
    """A feed written a while ago (one modified in the last seconds keeps no validator)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["sku", "title", "price", "stock"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class HttpFeed:
    """A feed server on 127.0.0.1: its body, whether it honours If-None-Match, the body bytes it sent."""

    url: str = ""
    body: bytes = b""
    honour_conditionals: bool = True
    bytes_sent: int = 0
    conditional_requests: list[str | None] = field(default_factory=list)


@pytest.fixture
async def http_feed() -> AsyncIterator[HttpFeed]:
    served = HttpFeed()

    async def feed(request: web.Request) -> web.Response:
        served.conditional_requests.append(request.headers.get("If-None-Match"))
        if served.honour_conditionals and request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        served.bytes_sent += len(served.body)
        return web.Response(body=served.body, headers={"ETag": ETAG})

    app = web.Application()
    app.router.add_get("/feed.csv", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}/feed.csv"
    yield served
    await runner.cleanup()


async def untouched(feed: ConfigFeed) -> tuple[list[dict[str, Any]], int]:
    requests = int((await feed.configs.shop.simulator.stats())["requests"])
    return await feed.configs.shop.catalogue(), requests


async def assert_untouched(feed: ConfigFeed, before: tuple[list[dict[str, Any]], int]) -> None:
    """Nothing written, and of the shop the run asked only what changed in it: the drift check's two
    requests (what changed since the last run, then the list of those products — the last run's own writes,
    known by their time, so none read). The one more counted is the catalogue query that took `before`."""
    catalogue, requests = before
    assert (await feed.configs.shop.simulator.stats())["requests"] == requests + 1 + 2
    assert await feed.configs.shop.catalogue() == catalogue


async def test_unchanged_http_feed_is_answered_304(make_feed: MakeFeed, http_feed: HttpFeed) -> None:
    feed = await make_feed(sync={"allow_private_sources": True})
    await feed.change(connection_type="http", credentials={"url": http_feed.url})
    http_feed.body = csv_bytes(flat_rows(3))
    first = await feed.sync()
    assert (first.status, first.counts["created"]) == ("succeeded", 3), first
    sent, before = http_feed.bytes_sent, await untouched(feed)
    second = await feed.sync()
    assert second.status == "unchanged", second
    assert second.counts["unchanged_reason"] == f"source not modified (ETag {ETAG})"
    assert second.counts["feed_bytes_transferred"] == 0
    assert http_feed.bytes_sent == sent  # the server sent no byte of the feed
    assert http_feed.conditional_requests[-1] == ETAG
    await assert_untouched(feed, before)


async def test_http_server_ignoring_conditionals_is_checked_by_hash(
    make_feed: MakeFeed, http_feed: HttpFeed
) -> None:
    """A server that answers 200 with the same ETag whatever it serves: other bytes are parsed and written
    (from the one download), the same bytes end `unchanged`."""
    feed = await make_feed(sync={"allow_private_sources": True})
    await feed.change(connection_type="http", credentials={"url": http_feed.url})
    http_feed.honour_conditionals = False
    http_feed.body = csv_bytes(flat_rows(3))
    assert (await feed.sync()).status == "succeeded"
    http_feed.body = csv_bytes(flat_rows(3, price="12.00"))
    sent = http_feed.bytes_sent
    changed = await feed.sync()
    assert (changed.status, changed.counts["updated"]) == ("succeeded", 3), changed
    assert http_feed.bytes_sent - sent == len(http_feed.body)  # downloaded once, parsed from the copy
    prices = {v["price"] for p in await feed.configs.shop.catalogue() for v in p["variants"]["nodes"]}
    assert prices == {"12.00"}
    before = await untouched(feed)
    same = await feed.sync()
    assert same.status == "unchanged", same
    assert same.counts["unchanged_reason"].startswith("same bytes (sha256 ")
    assert same.counts["feed_bytes_transferred"] == len(http_feed.body)
    await assert_untouched(feed, before)


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[FtpServer]:
    root = tmp_path / "ftp-root"
    root.mkdir()
    yield from start_ftp(root, tls_cert=None)


async def ftp_feed(make_feed: MakeFeed, ftp: FtpServer) -> ConfigFeed:
    """A config reading `/feed.csv` from the loopback FTP server."""
    feed = await make_feed()
    credentials = {
        "host": "127.0.0.1",
        "port": ftp.port,
        "username": FTP_USER,
        "password": FTP_PASSWORD,
        "filePath": "/feed.csv",
    }
    await feed.change(connection_type="ftp", credentials=credentials)
    return feed


async def test_unchanged_ftp_feed_is_known_by_modify_and_size(make_feed: MakeFeed, ftp: FtpServer) -> None:
    feed = await ftp_feed(make_feed, ftp)
    (ftp.root / "feed.csv").write_bytes(csv_bytes(flat_rows(3)))
    aged(ftp.root / "feed.csv")
    assert (await feed.sync()).status == "succeeded"
    sent, before = ftp.bytes_sent[0], await untouched(feed)
    assert sent > 0
    second = await feed.sync()
    assert second.status == "unchanged", second
    assert second.counts["unchanged_reason"].startswith("source not modified (modified ")
    assert ftp.bytes_sent[0] == sent
    await assert_untouched(feed, before)
    (ftp.root / "feed.csv").write_bytes(csv_bytes(flat_rows(4)))  # another size: read again
    grown = await feed.sync()
    assert (grown.status, grown.counts["created"]) == ("succeeded", 1), grown


async def test_ftp_feed_written_twice_within_a_second_is_read(make_feed: MakeFeed, ftp: FtpServer) -> None:
    """MLST gives whole seconds: a feed rewritten with other bytes of the same size right after a run
    has the same modify and size, yet is read, because a file that fresh keeps no validator."""
    feed = await ftp_feed(make_feed, ftp)
    for price in ("11.00", "12.00", "13.00"):
        (ftp.root / "feed.csv").write_bytes(csv_bytes(flat_rows(2, price=price)))
        result = await feed.sync()
        assert result.status == "succeeded", result
        prices = {v["price"] for p in await feed.configs.shop.catalogue() for v in p["variants"]["nodes"]}
        assert prices == {price}


class CountingSftp(asyncssh.SFTPServer):
    """An SFTP server that counts the file bytes it reads out."""

    sent = 0

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        data: bytes = super().read(file_obj, offset, size)
        CountingSftp.sent += len(data)
        return data


class PasswordServer(asyncssh.SSHServer):
    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == ("erp", "pw")


async def test_unchanged_sftp_feed_is_known_by_stat(make_feed: MakeFeed, tmp_path: Path) -> None:
    root = tmp_path / "sftp-root"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=PasswordServer,
        sftp_factory=lambda channel: CountingSftp(channel, chroot=str(root).encode()),
    )
    try:
        port = int(server.sockets[0].getsockname()[1])
        feed = await make_feed()
        credentials = {
            "host": "127.0.0.1",
            "port": port,
            "username": "erp",
            "password": "pw",
            "filePath": "/feed.csv",
            "host_key_fingerprint": host_key.get_fingerprint("sha256"),
        }
        await feed.change(connection_type="sftp", credentials=credentials)
        (root / "feed.csv").write_bytes(csv_bytes(flat_rows(3)))
        aged(root / "feed.csv")
        CountingSftp.sent = 0
        assert (await feed.sync()).status == "succeeded"
        sent, before = CountingSftp.sent, await untouched(feed)
        assert sent > 0
        second = await feed.sync()
        assert second.status == "unchanged", second
        assert second.counts["unchanged_reason"].startswith("source not modified (stat: ")
        assert CountingSftp.sent == sent
        await assert_untouched(feed, before)
    finally:
        server.close()
        await server.wait_closed()
