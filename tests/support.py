"""Constants and helpers shared by the tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import aiohttp

ADMIN_DSN = os.environ.get("ERPSYNC_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ERPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
API_TOKEN = "test-api-token-5f1c9a"
SECRET_KEY = "test-secret-key-0123456789abcdef"
SIM_TOKEN = "shpat_simulated_token"


def dsn_for(database: str) -> str:
    """The admin DSN pointed at another database."""
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_healthy(api: aiohttp.ClientSession, port: int) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with api.get(f"http://127.0.0.1:{port}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)


async def poll_until(check: Any, *, seconds: float = 30.0, every: float = 0.05) -> None:
    """Await `check()` until it is truthy; fail the test after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(every)
