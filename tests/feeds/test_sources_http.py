"""HTTP and local file sources against a real aiohttp server on 127.0.0.1 and a temp directory."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from feed_support import free_port, make_config

from erpsync.sources import open_feed
from erpsync.sources.errors import (
    SourceAuthError,
    SourceCut,
    SourceNotFound,
    SourceRefused,
    SourceTimeout,
    SourceUnavailable,
)

BODY = b"sku,name\n" + b"".join(b"S%d,n\n" % index for index in range(100_000))
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


async def fetch(config: Any, **options: Any) -> tuple[bytes, Any]:
    """The whole feed and its FeedInfo."""
    async with open_feed(config, retry_delay=0, **options) as stream:
        body = b"".join([chunk async for chunk in stream])
        return body, stream.info()


@pytest.fixture
async def http_base() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """An aiohttp server with one route per behaviour a feed host can show; yields its URL and hit counts."""
    hits: dict[str, int] = {}

    async def feed(request: web.Request) -> web.StreamResponse:
        hits["feed"] = hits.get("feed", 0) + 1
        if request.headers.get("X-Api-Key") != "k3y":
            return web.Response(status=403)
        if request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        return web.Response(body=BODY, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})

    async def basic(request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(b"erp:pw").decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": "Basic"})
        return web.Response(body=b"ok")

    async def flaky(_request: web.Request) -> web.Response:
        hits["flaky"] = hits.get("flaky", 0) + 1
        return web.Response(status=503) if hits["flaky"] < 3 else web.Response(body=b"fine")

    async def busy(_request: web.Request) -> web.Response:
        return web.Response(status=503)

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(1_000_000)})
        await response.prepare(request)
        await response.write(b"x" * 10_000)
        assert request.transport is not None
        request.transport.close()
        return response

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"late")

    async def gzipped(_request: web.Request) -> web.Response:
        response = web.Response(body=BODY)
        response.enable_compression()
        return response

    app = web.Application()
    app.router.add_get("/export/feed.csv", feed)
    app.router.add_get("/basic.csv", basic)
    app.router.add_get("/flaky.csv", flaky)
    app.router.add_get("/busy.csv", busy)
    app.router.add_get("/cut.csv", cut)
    app.router.add_get("/slow.csv", slow)
    app.router.add_get("/gzip.csv", gzipped)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


def http_config(url: str, **credentials: Any) -> Any:
    """A config fetching `url`."""
    return make_config(connection_type="http", credentials={"url": url, **credentials})


async def test_sources_http_headers_and_conditional_get(http_base: tuple[str, dict[str, int]]) -> None:
    """Headers are sent, the body is hashed, and an unchanged feed is answered 304 without a download."""
    base, _ = http_base
    config = http_config(f"{base}/export/feed.csv?token=abc", headers={"X-Api-Key": "k3y"})
    body, info = await fetch(config)
    assert body == BODY
    assert (info.size, info.sha256) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert (info.name, info.etag, info.last_modified) == ("/export/feed.csv", ETAG, LAST_MODIFIED)
    again, second = await fetch(config, previous=info)
    assert (again, second.not_modified, second.etag) == (b"", True, ETAG)


async def test_sources_http_basic_auth(http_base: tuple[str, dict[str, int]]) -> None:
    """Basic auth from username and password; a wrong password is an auth error."""
    base, _ = http_base
    assert (await fetch(http_config(f"{base}/basic.csv", username="erp", password="pw")))[0] == b"ok"
    with pytest.raises(SourceAuthError, match="401"):
        await fetch(http_config(f"{base}/basic.csv", username="erp", password="nope"))


async def test_sources_http_gzip_content_encoding(http_base: tuple[str, dict[str, int]]) -> None:
    """A server compressing on the fly still yields the plain feed, with no false size mismatch."""
    base, _ = http_base
    body, info = await fetch(http_config(f"{base}/gzip.csv", headers={"Accept-Encoding": "gzip"}))
    assert body == BODY
    assert info.size == len(BODY)


async def test_sources_http_retries_temporary_failures(http_base: tuple[str, dict[str, int]]) -> None:
    """A 503 is retried a bounded number of times: recovering servers succeed, dead ones fail clearly."""
    base, hits = http_base
    assert (await fetch(http_config(f"{base}/flaky.csv"), attempts=3))[0] == b"fine"
    assert hits["flaky"] == 3
    with pytest.raises(SourceUnavailable, match="503"):
        await fetch(http_config(f"{base}/busy.csv"), attempts=2)


@pytest.mark.parametrize(
    ("path", "credentials", "error", "fragment"),
    [("/missing.csv", {}, SourceNotFound, "404"),
     ("/export/feed.csv", {}, SourceAuthError, "403"),
     ("/cut.csv", {}, SourceCut, "cut midway"),
     ("/slow.csv", {"timeout": 0.3}, SourceTimeout, "no answer")],
)  # fmt: skip
async def test_sources_http_errors(
    http_base: tuple[str, dict[str, int]],
    path: str,
    credentials: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    """Missing, forbidden, cut and slow feeds each give their own error naming host and path."""
    base, _ = http_base

    async def read_all() -> None:
        await fetch(http_config(f"{base}{path}", **credentials), attempts=1)

    with pytest.raises(error) as caught:
        await read_all()
    assert f"127.0.0.1:{path}" in str(caught.value)
    assert fragment in str(caught.value)


async def test_sources_http_refused() -> None:
    """Nothing listening gives a refused error naming the host."""
    with pytest.raises(SourceRefused, match="connection refused"):
        await fetch(http_config(f"http://127.0.0.1:{free_port()}/feed.csv"), attempts=2)


async def test_sources_file_and_glob(tmp_path: Path) -> None:
    """A local path streams with its hash; a glob takes the newest match; a missing file says so."""
    content = os.urandom(600_000)
    (tmp_path / "products_1.csv").write_bytes(b"old")
    (tmp_path / "products_2.csv").write_bytes(content)
    old = time.time() - 3600
    os.utime(tmp_path / "products_1.csv", (old, old))
    body, info = await fetch(make_config(credentials={"filePath": str(tmp_path / "products_*.csv")}))
    assert body == content
    assert (info.name, info.sha256) == (str(tmp_path / "products_2.csv"), hashlib.sha256(content).hexdigest())
    with pytest.raises(SourceNotFound, match="no such file"):
        await fetch(make_config(credentials={"filePath": str(tmp_path / "none.csv")}))
    with pytest.raises(SourceNotFound, match="no file matches"):
        await fetch(make_config(credentials={"filePath": str(tmp_path / "x_*.csv")}))
