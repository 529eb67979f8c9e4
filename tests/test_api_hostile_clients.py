"""Hostile HTTP clients against a real `erpsync serve`: slow headers, slow bodies, header floods.

Each is refused with a clean 4xx or a closed connection within the configured time, and the API keeps
answering everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from support import erpsync_env, free_port, wait_until_healthy

from erpsync.settings import Settings

TOKEN = "hostile-api-token-91b2"
IDLE_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0


@pytest.fixture
async def serve(
    settings: Settings, db: asyncpg.Connection[Any], tmp_path: Path, clean_redis: Any
) -> AsyncIterator[int]:
    """A real `erpsync serve` with short idle and body timeouts; yields its port."""
    port = free_port()
    env = erpsync_env(
        settings,
        tmp_path,
        PORT=str(port),
        ERPSYNC_API__TOKEN=TOKEN,
        ERPSYNC_API__IDLE_TIMEOUT=str(IDLE_TIMEOUT),
        ERPSYNC_API__BODY_TIMEOUT=str(BODY_TIMEOUT),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "erpsync", "serve", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_healthy(session, port)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    assert TOKEN.encode() not in stderr


async def health_answers(port: int) -> bool:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/health", timeout=aiohttp.ClientTimeout(total=5)) as response,
    ):
        return response.status == 200


async def read_until_closed(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; fails the test after `seconds`."""
    async with asyncio.timeout(seconds):
        return await reader.read()


async def test_slow_header_client_is_cut_off_while_others_are_served(serve: int) -> None:
    """A client dribbling its headers (slowloris) loses its connection after `idle_timeout`; many such
    connections at once do not stop /health from answering."""
    port = serve
    dribblers = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
    for _, writer in dribblers:
        writer.write(b"GET /configs HTTP/1.1\r\nHost: erpsync\r\n")
    started = time.monotonic()

    async def dribble(writer: asyncio.StreamWriter) -> None:
        for index in range(100):
            if writer.is_closing():
                return
            writer.write(f"X-Slow-{index}: a\r\n".encode())
            await asyncio.sleep(0.2)

    tasks = [asyncio.create_task(dribble(writer)) for _, writer in dribblers]
    try:
        assert await health_answers(port)
        leftovers = await asyncio.gather(*(read_until_closed(reader, 10) for reader, _ in dribblers))
        elapsed = time.monotonic() - started
    finally:
        for task in tasks:
            task.cancel()
        for _, writer in dribblers:
            writer.close()
    assert all(data == b"" for data in leftovers), "a half-sent request got an answer"
    assert elapsed < IDLE_TIMEOUT + 8, f"slow clients were held for {elapsed:.1f} s"
    assert await health_answers(port)


async def test_idle_connection_is_closed(serve: int) -> None:
    """A connection that sends nothing at all is closed too, rather than kept for an hour."""
    reader, writer = await asyncio.open_connection("127.0.0.1", serve)
    try:
        assert await read_until_closed(reader, IDLE_TIMEOUT + 8) == b""
    finally:
        writer.close()


async def test_slow_body_gets_408(serve: int) -> None:
    """A body that stops arriving is answered 408 in the API's error shape, and nothing is created."""
    reader, writer = await asyncio.open_connection("127.0.0.1", serve)
    body = b'{"id": "slow-body", "name": "Slow"'
    writer.write(
        b"POST /configs HTTP/1.1\r\nHost: erpsync\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 4000\r\n\r\n".encode()
        + body
    )
    try:
        answer = await read_until_closed(reader, BODY_TIMEOUT + 8)
    finally:
        writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), head
    assert orjson.loads(payload)["error"]["code"] == "body_timeout"
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
        session.get(f"http://127.0.0.1:{serve}/configs") as response,
    ):
        assert await response.json() == []


@pytest.mark.parametrize(
    ("label", "headers"),
    [
        ("too many headers", b"".join(f"X-Flood-{n}: v\r\n".encode() for n in range(500))),
        ("one huge header", b"X-Huge: " + b"a" * 100_000 + b"\r\n"),
        ("huge request line", b""),
    ],
)
async def test_header_floods_get_a_clean_4xx(serve: int, label: str, headers: bytes) -> None:
    """Hundreds of headers, a 100 kB header or a 100 kB URL: a 4xx status, never a 5xx or a hang."""
    path = "/configs?" + "q=" + "x" * 100_000 if label == "huge request line" else "/configs"
    reader, writer = await asyncio.open_connection("127.0.0.1", serve)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: erpsync\r\nAuthorization: Bearer {TOKEN}\r\n".encode()
        + headers
        + b"\r\n"
    )
    try:
        answer = await read_until_closed(reader, 10)
    except (ConnectionResetError, BrokenPipeError):
        answer = b""
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0
    assert 400 <= status < 500, f"{label}: {answer[:200]!r}"
    assert await health_answers(serve)
