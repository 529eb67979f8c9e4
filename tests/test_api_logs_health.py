"""Log browsing, the health probe and the OpenAPI document, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from erpsync.api.app import init_app
from erpsync.db.logs import add_log
from erpsync.settings import DatabaseSettings, RedisSettings, Settings

Client = TestClient[Any, Any]


async def seed_logs(api: Client, db: asyncpg.Connection[Any], make_config: Any) -> None:
    for config_id in ("alpha", "beta"):
        assert (await api.post("/configs", json=make_config(config_id))).status == 201
    for index in range(5):
        await add_log(db, config_id="alpha", run_id=None, level="info", message=f"alpha line {index}")
    await add_log(
        db, config_id="alpha", run_id=None, level="error", sku="TEE-S", message="price 'abc' is not a number"
    )
    await add_log(db, config_id="beta", run_id=None, level="warning", message="beta line")


async def test_logs_filter_by_config_level_and_since(
    api: Client, db: asyncpg.Connection[Any], make_config: Any
) -> None:
    """An operator can narrow the log to one config, to warnings and worse, and to recent lines."""
    await seed_logs(api, db, make_config)
    every = await (await api.get("/logs")).json()
    assert len(every["logs"]) == 7
    assert every["logs"][0]["message"] == "beta line"  # newest first

    alpha = await (await api.get("/configs/alpha/logs")).json()
    assert {line["config_id"] for line in alpha["logs"]} == {"alpha"}
    assert len(alpha["logs"]) == 6

    bad = await (await api.get("/logs", params={"level": "warning"})).json()
    assert [line["level"] for line in bad["logs"]] == ["warning", "error"]
    assert bad["logs"][1]["sku"] == "TEE-S"

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await (await api.get("/logs", params={"since": future})).json())["logs"] == []


async def test_logs_paginate_without_gaps(api: Client, db: asyncpg.Connection[Any], make_config: Any) -> None:
    """Paging through the log with `next` returns every line once, in order."""
    await seed_logs(api, db, make_config)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": "3"}
    while True:
        page = await (await api.get("/logs", params=params)).json()
        seen += [line["id"] for line in page["logs"]]
        if page["next"] is None:
            break
        params["before"] = str(page["next"])
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    "params",
    [{"level": "loud"}, {"limit": "0"}, {"limit": "abc"}, {"since": "yesterday"}, {"colour": "red"}],
    ids=["bad-level", "zero-limit", "text-limit", "bad-since", "unknown-param"],
)
async def test_bad_log_query_is_422(api: Client, params: dict[str, str]) -> None:
    """A wrong filter is refused with the parameter named, never silently ignored."""
    response = await api.get("/logs", params=params)
    assert response.status == 422
    details = (await response.json())["error"]["details"]
    assert next(iter(params)) in [detail["field"] for detail in details]


async def test_health_ok_when_both_up(api: Client) -> None:
    """With PostgreSQL and Redis up, /health says ok for each."""
    response = await api.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["checks"]["postgres"]["ok"]
    assert body["checks"]["redis"]["ok"]


@pytest.mark.parametrize("down", ["postgres", "redis"])
async def test_health_503_names_the_service_down(settings: Settings, down: str) -> None:
    """When one service cannot be reached, /health answers 503 and names that one, not the other."""
    closed_port = "127.0.0.1:9"  # discard port: nothing listens, the connection is refused
    if down == "postgres":
        broken = settings.model_copy(
            update={"database": DatabaseSettings(url=f"postgresql://x@{closed_port}/x")}
        )
    else:
        broken = settings.model_copy(update={"redis": RedisSettings(url=f"redis://{closed_port}/0")})
    async with TestClient(TestServer(init_app(broken), host="127.0.0.1")) as client:
        response = await client.get("/health")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "unavailable"
        assert body["checks"][down]["ok"] is False
        other = "redis" if down == "postgres" else "postgres"
        assert body["checks"][other]["ok"] is True
        assert down in body["error"]["message"]


async def test_openapi_describes_the_config_body(api: Client) -> None:
    """/openapi.json is generated from the models: the config schema has its fields and constraints."""
    response = await api.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    schema = document["components"]["schemas"]["SyncConfig"]
    assert {"id", "connection_type", "credentials", "mapping"} <= set(schema["required"])
    assert set(schema["properties"]["connection_type"]["enum"]) == {"ftp", "ftps", "sftp", "http", "file"}
    assert "filePath" in document["components"]["schemas"]["Credentials"]["properties"]
    assert {"/configs", "/configs/{id}", "/configs/{id}/logs", "/logs", "/health"} <= set(document["paths"])
    assert document["paths"]["/configs"]["post"]["responses"]["422"]
