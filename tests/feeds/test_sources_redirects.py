"""HTTP redirects against real aiohttp servers on loopback: where a feed server may send erpsync, and
what the config's secrets may follow it there.

The feed server listens on 127.0.0.1; the place it redirects to listens on 127.0.0.2 (another host) and on
another port of 127.0.0.1 (another origin), and records the headers of every request it gets.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from feed_support import make_config

from erpsync.sources import open_feed
from erpsync.sources.errors import SourceError
from erpsync.sources.http import MAX_REDIRECTS
from erpsync.sources.policy import SourceForbidden, SourcePolicy

API_KEY = "k3y-not-for-others"
BASIC = "Basic " + base64.b64encode(b"erp:pw").decode()
SECRETS: dict[str, Any] = {"headers": {"X-Api-Key": API_KEY}, "username": "erp", "password": "pw"}
# The feed server's own host may be private; every other private address stays refused.
TRUST_FEED_HOST = SourcePolicy(None, allow_private=False, trusted_hosts=frozenset({"127.0.0.1"}))


@dataclass
class Servers:
    """The feed server's URL, the redirect target's URLs, and what the target was sent."""

    feed: str
    other_host: str
    other_port: str
    received: list[dict[str, str]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)


async def start(app: web.Application, *hosts: str) -> tuple[web.AppRunner, list[str]]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    for host in hosts:
        await web.TCPSite(runner, host, 0).start()
    return runner, [f"http://{host}:{port}" for host, port, *_ in runner.addresses]


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    """A redirect target on two origins, then a feed server whose routes redirect to it."""
    received: list[dict[str, str]] = []

    async def target(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.Response(body=b"sku\nmoved\n")

    target_app = web.Application()
    target_app.router.add_get("/feed.csv", target)
    target_runner, (other_host, other_port) = await start(target_app, "127.0.0.2", "127.0.0.1")
    hits: dict[str, int] = {}

    def redirecting(location: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            hits[request.path] = hits.get(request.path, 0) + 1
            return web.Response(status=302, headers={"Location": location})

        return handler

    async def away(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        base = {"host": other_host, "port": other_port, "localhost": "http://localhost:9"}[
            request.query["to"]
        ]
        return web.Response(status=status, headers={"Location": f"{base}/feed.csv?token=t0ken"})

    async def export(request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != API_KEY or request.headers.get("Authorization") != BASIC:
            return web.Response(status=403)
        return web.Response(body=b"sku\nhere\n")

    feed_app = web.Application()
    feed_app.router.add_get("/away.csv", away)
    feed_app.router.add_get("/same.csv", redirecting("export.csv"))
    feed_app.router.add_get("/export.csv", export)
    feed_app.router.add_get("/loop.csv", redirecting("/loop.csv"))
    feed_app.router.add_get("/file.csv", redirecting("file:///etc/passwd"))
    try:
        feed_runner, (feed,) = await start(feed_app, "127.0.0.1")
        yield Servers(feed, other_host, other_port, received, hits)
        await feed_runner.cleanup()
    finally:
        await target_runner.cleanup()


async def fetch(config: Any, policy: SourcePolicy | None) -> bytes:
    async with open_feed(config, attempts=1, policy=policy) as stream:
        return b"".join([chunk async for chunk in stream])


def http_config(url: str, **credentials: Any) -> Any:
    return make_config(connection_type="http", credentials={"url": url, **credentials})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_sources_redirect_to_a_private_address_is_refused(servers: Servers, status: int) -> None:
    """A feed server cannot send erpsync into the private network: a redirect to a private address is
    refused before anything is sent there, and the error names both ends, never the query's token."""
    url = f"{servers.feed}/away.csv?to=host&status={status}"
    with pytest.raises(SourceForbidden) as caught:
        await fetch(http_config(url, **SECRETS), TRUST_FEED_HOST)
    message = str(caught.value)
    assert message.startswith("127.0.0.2:/feed.csv: resolves to a private or local address (127.0.0.2)")
    assert message.endswith("(redirected from 127.0.0.1:/away.csv)")
    assert "t0ken" not in message
    assert servers.received == []


async def test_sources_redirect_to_a_private_name_is_refused(servers: Servers) -> None:
    """A redirect to a name (`localhost`) is judged by what the name resolves to."""
    with pytest.raises(SourceForbidden, match=r"^localhost:/feed.csv: resolves to a private"):
        await fetch(http_config(f"{servers.feed}/away.csv?to=localhost"), TRUST_FEED_HOST)


@pytest.mark.parametrize("to", ["host", "port"], ids=["other-host", "other-port"])
async def test_sources_redirect_elsewhere_gets_no_secrets(servers: Servers, to: str) -> None:
    """Where private targets are allowed the redirect is followed, but the config's API key and basic
    auth stay with the config's own origin: the host redirected to gets neither."""
    body = await fetch(
        http_config(f"{servers.feed}/away.csv?to={to}", **SECRETS), SourcePolicy(None, allow_private=True)
    )
    assert body == b"sku\nmoved\n"
    (headers,) = servers.received
    assert "X-Api-Key" not in headers
    assert "Authorization" not in headers
    assert API_KEY not in str(headers)


async def test_sources_redirect_on_the_same_origin_keeps_secrets(servers: Servers) -> None:
    """A relative redirect on the feed's own server (`/same.csv` → `export.csv`) still carries the API key
    and basic auth, so the feed is read rather than refused with a 403."""
    assert await fetch(http_config(f"{servers.feed}/same.csv", **SECRETS), TRUST_FEED_HOST) == b"sku\nhere\n"


async def test_sources_redirect_loop_stops(servers: Servers) -> None:
    """A server redirecting forever gives a clear error after a bounded number of requests, not a hang."""
    with pytest.raises(SourceError, match=rf"^127.0.0.1:/loop.csv: more than {MAX_REDIRECTS} redirects"):
        await fetch(http_config(f"{servers.feed}/loop.csv"), TRUST_FEED_HOST)
    assert servers.hits["/loop.csv"] == MAX_REDIRECTS + 1


async def test_sources_redirect_to_another_scheme_is_refused(servers: Servers) -> None:
    """A redirect to `file:` (or any scheme but http and https) is refused: it cannot read a local file."""
    with pytest.raises(SourceForbidden, match=r"^127.0.0.1:/file.csv: redirected to a file: address"):
        await fetch(http_config(f"{servers.feed}/file.csv"), SourcePolicy(None, allow_private=True))
