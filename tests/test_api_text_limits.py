"""Text and numbers PostgreSQL refuses (NUL, invalid UTF-8, beyond bigint, dates before year 1): every
route answers 404 or 422 in the API's error shape, never a 500, and nothing stored is touched."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from support import API_TOKEN
from test_logs import captured_log
from yarl import URL

from erpsync.api.app import init_app
from erpsync.api.keys import POOL
from erpsync.settings import Settings

Client = TestClient[Any, Any]
NUL_ID = "a%00b"  # as a client writes it in a URL
UNSTORABLE_IDS = [NUL_ID, "%ED%A0%80", "%FF%FE"]  # a NUL; an encoded lone surrogate; bytes that are not UTF-8


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    with captured_log() as out:
        yield out


def assert_error_body(body: Any) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str), body
    assert body["error"]["message"], body
    assert body["error"]["code"] != "internal_error", body


@pytest.mark.parametrize("bad_id", UNSTORABLE_IDS, ids=["nul", "surrogate", "not-utf8"])
async def test_every_route_answers_an_unstorable_id_without_a_500(
    settings: Settings,
    db: asyncpg.Connection[Any],
    make_config: Any,
    server_log: io.StringIO,
    bad_id: str,
) -> None:
    """Walks the app's own route table (a route added later is covered too): an id PostgreSQL cannot hold
    is 404 wherever it is a path parameter, and a NUL in a query value is a 4xx; the stored config is
    still there afterwards and the server log shows no unhandled error."""
    app = init_app(settings)
    routes = sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
    )
    assert len(routes) >= 14, routes  # the walk sees the whole table, not a part of it
    async with (
        TestServer(app, host="127.0.0.1") as server,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"}) as session,
    ):
        async with session.post(server.make_url("/configs"), json=make_config()) as response:
            assert response.status == 201
        for method, path in routes:
            with_params = "{" in path
            target = path.replace("{id}", bad_id).replace("{run_id}", bad_id)
            for query in ("", f"?config_id={NUL_ID}&limit=%00&since=%00&x=%00"):
                url = str(server.make_url("")).rstrip("/") + target + query
                body = make_config() if method in {"POST", "PUT", "PATCH"} else None
                async with session.request(method, URL(url, encoded=True), json=body) as response:
                    status = response.status
                    assert status < 500, (method, url, status, await response.text())
                    if (
                        with_params
                    ):  # a NUL is caught first; an id merely unknown may fail another check first
                        expected = {404} if bad_id == NUL_ID else {404, 422}
                        assert status in expected, (method, url, status, await response.text())
                    if status >= 400 and path != "/health":
                        assert_error_body(await response.json())
    assert "unhandled error" not in server_log.getvalue()
    assert await db.fetchval("SELECT name FROM product_sync_configs WHERE id = 'acme-main'") == "ACME ERP"


async def test_nul_path_id_names_what_was_not_found(api: Client) -> None:
    """The 404 says which kind of thing has no such id, with the NUL shown escaped."""
    response = await api.get(f"/configs/{NUL_ID}")
    assert response.status == 404
    assert (await response.json())["error"] == {
        "code": "not_found",
        "message": "no sync config with id 'a\\x00b'",
        "details": [],
    }
    response = await api.get(f"/runs/{NUL_ID}")
    assert (await response.json())["error"]["message"] == "no run with id 'a\\x00b'"


def _set(path: str, value: Any) -> Any:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        node: Any = body
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
        return body

    return change


NUL_FIELDS = [
    ("name", _set("name", "bad\x00name")),
    ("credentials.host", _set("credentials.host", "ftp\x00.acme.test")),
    ("credentials.password", _set("credentials.password", "pass\x00word")),
    ("credentials.filePath", _set("credentials.filePath", "/export/\x00.json")),
    ("mapping.title", _set("mapping.title", "product\x00Name")),
    ("metafield_mappings.0.sourceKey", _set("metafield_mappings.0.sourceKey", "custom\x00")),
    ("credentials.headers.X-Key\x00", _set("credentials.headers", {"X-Key\x00": "value"})),
]


@pytest.mark.parametrize(("field", "break_body"), NUL_FIELDS, ids=[field for field, _ in NUL_FIELDS])
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_nul_in_any_config_field_is_422_naming_it(
    api: Client, make_config: Any, db: asyncpg.Connection[Any], *, method: str, field: str, break_body: Any
) -> None:
    """A NUL anywhere in a config body, a secret or a header name included, is refused with that field
    named; a POST stores nothing and a PUT leaves the stored config as it was."""
    if method == "PUT":
        assert (await api.post("/configs", json=make_config())).status == 201
    response = await api.request(method, "/configs" if method == "POST" else "/configs/acme-main",
                                 json=break_body(make_config()))  # fmt: skip
    assert response.status == 422, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "invalid_body"
    assert error["details"] == [{"field": field, "message": "NUL characters are not allowed in text"}]
    rows = await db.fetch("SELECT name, config::text AS config FROM product_sync_configs")
    assert [row["name"] for row in rows] == ([] if method == "POST" else ["ACME ERP"])


async def test_text_that_merely_spells_a_nul_escape_is_kept(api: Client, make_config: Any) -> None:
    """A name with the six characters `\\u0000` in it (a backslash, not a NUL) is stored and read back."""
    name = "C:\\u0000 export"
    assert (await api.post("/configs", json=make_config(name=name))).status == 201
    assert (await (await api.get("/configs/acme-main")).json())["name"] == name


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/logs?config_id={NUL_ID}", "config_id"),
        ("/logs?level=%00", "level"),
        ("/logs?limit=%00", "limit"),
        (f"/logs?run_id={2**70}", "run_id"),
        (f"/logs?before={2**63}", "before"),
        ("/logs?since=0001-01-01T00:00:00%2B23:59", "since"),
        ("/logs?since=9999-12-31T23:59:59-23:59", "since"),
        (f"/configs/acme-main/logs?before={2**64}", "before"),
        (f"/configs/acme-main/runs?limit={2**70}", "limit"),
        ("/sync/acme-main?dry_run=%00", "dry_run"),
    ],
)
async def test_query_values_postgres_cannot_take_are_422_naming_them(
    api: Client, make_config: Any, path: str, field: str
) -> None:
    """Filters with a NUL, a number beyond bigint or a date whose UTC instant falls before year 1 or after
    9999 are refused as invalid query parameters, each named."""
    assert (await api.post("/configs", json=make_config())).status == 201
    response = await api.request("POST" if path.startswith("/sync") else "GET",
                                 URL(path, encoded=True))  # fmt: skip
    assert response.status == 422, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "invalid_query", error
    assert error["message"].startswith("invalid query parameters"), error
    assert field in [detail["field"] for detail in error["details"]], error


async def probe(request: web.Request) -> web.Response:
    """A handler that hands the query's value to PostgreSQL as is, as a forgotten check would."""
    kind = request.query["kind"]
    value: Any = {"bigint": 2**70, "surrogate": "a\ud800b", "nul": "a\x00b"}.get(kind)
    query = "SELECT 1 / 0" if kind == "bug" else f"SELECT $1::{'bigint' if kind == 'bigint' else 'text'}"
    await request.app[POOL].fetchval(query, *([] if kind == "bug" else [value]))
    return web.json_response({})


@pytest.mark.parametrize("kind", ["nul", "surrogate", "bigint"])
async def test_a_value_postgres_refuses_is_422_at_the_edge(
    settings: Settings, db: asyncpg.Connection[Any], server_log: io.StringIO, kind: str
) -> None:
    """Behind the checks, the middleware itself answers 422 when PostgreSQL (or asyncpg, encoding the
    parameter) refuses a value: a handler that forgets to validate still gives no 500."""
    app = init_app(settings)
    app.router.add_get("/probe", probe)
    async with TestClient(
        TestServer(app, host="127.0.0.1"), headers={"Authorization": f"Bearer {API_TOKEN}"}
    ) as client:
        response = await client.get("/probe", params={"kind": kind})
        assert response.status == 422
        error = (await response.json())["error"]
        assert error["code"] == "invalid_input"
        assert "PostgreSQL cannot store" in error["message"]
        response = await client.get("/probe", params={"kind": "bug"})  # a server bug is not the client's
        assert response.status == 500
    assert "unhandled error" in server_log.getvalue()  # only the division by zero
    assert server_log.getvalue().count("unhandled error") == 1
