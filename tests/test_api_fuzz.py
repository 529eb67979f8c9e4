"""Schemathesis against a real `erpsync serve`: generated requests from /openapi.json never get a 5xx, and
every answer matches the schema it was documented with; without a token every route but /health is 401.

CI runs the deterministic phases (schema examples and boundary coverage). The random fuzzing and stateful
phases run by hand, as the README shows, since their requests differ from run to run."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from support import erpsync_env, free_port, wait_until_healthy

from erpsync.api.app import init_app
from erpsync.settings import Settings

TOKEN = "fuzz-api-token-5e2a"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is a dev dependency: install the project with '.[dev]'")
    return [found]


async def test_generated_requests_get_no_5xx_and_schema_conformant_answers(
    settings: Settings, db: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    """Hundreds of generated bodies, paths and queries: zero server errors, zero schema violations."""
    port = free_port()
    env = erpsync_env(
        settings, tmp_path, PORT=str(port), ERPSYNC_API__TOKEN=TOKEN, ERPSYNC_LOG__LEVEL="error"
    )
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "erpsync",
        "serve",
        "--no-worker",
        "--no-scheduler",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_healthy(session, port)
        fuzz = await asyncio.create_subprocess_exec(
            *schemathesis_command(),
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            "--max-examples",
            "25",
            "--checks",
            CHECKS,
            "--seed",
            "20261125",
            "--no-color",
            "--phases",
            "examples,coverage",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(400):
            output, _ = await fuzz.communicate()
    finally:
        server.terminate()
        _, stderr = await server.communicate()
    crashes = [line for line in stderr.decode(errors="replace").splitlines() if "unhandled error" in line]
    assert fuzz.returncode == 0, output.decode(errors="replace")[-3000:] + "\n".join(crashes)[-3000:]
    assert b"unhandled error" not in stderr  # the API's catch-all never fired


async def test_every_route_but_health_needs_the_token(settings: Settings) -> None:
    """Walks the app's own route table, so a route added later cannot forget its authentication."""
    from aiohttp.test_utils import TestServer

    app = init_app(settings)
    routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        for method, path in sorted(routes):
            url = server.make_url(path.replace("{id}", "acme").replace("{run_id}", "1").replace("{sku}", "S"))
            async with session.request(method, url) as response:
                expected = 200 if path == "/health" else 401
                assert response.status == expected, (method, path, response.status)
