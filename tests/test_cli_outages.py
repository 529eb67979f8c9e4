"""Every command with PostgreSQL, Redis, the shop and the feed's source out of reach in turn: each
ends with a line that says what happened and a documented status, never a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import erpsync_awaited, erpsync_env

from erpsync.settings import Settings

# Commands an operator runs, with the ids the fixture stores ("acme": a file feed; "far": an FTP
# server nobody listens at).
COMMANDS = [
    ["migrate"],
    ["check"],
    ["configs", "list"],
    ["configs", "show", "acme"],
    ["configs", "disable", "acme"],
    ["configs", "enable", "acme"],
    ["runs"],
    ["runs", "acme"],
    ["logs", "acme"],
    ["preview", "acme"],
    ["preview", "far"],
    ["sync", "acme"],
    ["sync", "far"],
    ["sync", "acme", "--dry-run"],
    ["rotate-key"],
]
DOCUMENTED = {0, 1, 2, 3, 64, 65, 66, 69, 75, 78}


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        yield nobody.getsockname()[1]


@pytest.mark.parametrize("outage", ["postgresql", "redis", "shop", "source"])
async def test_every_command_ends_in_one_line_without_a_traceback(
    outage: str, *, settings: Settings, tmp_path: Path, shopify: Any, make_config: Any, refused_port: int
) -> None:
    feed = tmp_path / "products.csv"
    feed.write_text("sku,title,price\nA-1,Tee,19.90\n")
    env = erpsync_env(settings, tmp_path, shop_url=shopify.base_url)
    acme = make_config("acme", connection_type="file", credentials={"filePath": str(feed)}, format="csv")
    acme["mapping"] = {"title": "title", "variant.sku": "sku", "variant.price": "price"}
    far = make_config("far")
    far["credentials"] = {**far["credentials"], "host": "127.0.0.1", "port": refused_port}
    for config in (acme, far):
        path = tmp_path / f"{config['id']}.json"
        path.write_text(json.dumps(config))
        applied = await erpsync_awaited(env, "configs", "apply", str(path))
        assert applied.returncode == 0, applied.stderr
    refused = f"127.0.0.1:{refused_port}"
    env.update(
        {
            "postgresql": {"DATABASE_URL": f"postgresql://postgres@{refused}/erpsync"},
            "redis": {"REDIS_URL": f"redis://{refused}/0"},
            "shop": {"ERPSYNC_SHOPIFY__BASE_URL": f"http://{refused}", "ERPSYNC_SHOPIFY__MAX_RETRIES": "1"},
            "source": {},
        }[outage]
    )
    # Side by side, as an operator's shell and cron would: a status of 75 (the config is syncing
    # elsewhere) is as documented as any other.
    slots = asyncio.Semaphore(4)

    async def one(command: list[str]) -> subprocess.CompletedProcess[str]:
        async with slots:
            return await erpsync_awaited(env, *command)

    for command, result in zip(COMMANDS, await asyncio.gather(*map(one, COMMANDS)), strict=True):
        said = result.stdout + result.stderr
        assert "Traceback" not in said, (outage, command, said[-3000:])
        assert result.returncode in DOCUMENTED, (outage, command, result.returncode, said[-3000:])
        if result.returncode not in (0, 2, 3):
            last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
            reason = [line for line in result.stdout.splitlines() if line.startswith("  reason: ")]
            failed_checks = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
            assert last.startswith("erpsync") or reason or failed_checks, (outage, command, said[-3000:])
        if outage == "postgresql" and command[0] not in ("preview", "check"):  # check lists every check
            assert result.returncode == 69, (command, said[-2000:])
