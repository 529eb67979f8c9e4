"""The configuration API over real HTTP: create, read, replace, delete, and every bad input refused."""

from __future__ import annotations

import io
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]


async def count_configs(db: asyncpg.Connection[Any]) -> int:
    return int(await db.fetchval("SELECT count(*) FROM product_sync_configs"))


async def test_create_then_read_shows_masked_password(api: Client, make_config: Any) -> None:
    """A created config reads back as sent, except that its password shows as '***'."""
    response = await api.post("/configs", json=make_config())
    assert response.status == 201
    assert response.headers["Location"] == "/configs/acme-main"
    created = await response.json()
    assert created["credentials"]["password"] == "***"
    assert created["credentials"]["filePath"] == "/export/products.json"

    response = await api.get("/configs/acme-main")
    assert response.status == 200
    shown = await response.json()
    assert shown["credentials"]["password"] == "***"
    assert shown["mapping"]["variant.sku"] == "SKU"
    assert shown["sync_frequency"] == 24.0

    listing = await (await api.get("/configs")).json()
    assert [item["id"] for item in listing] == ["acme-main"]


async def test_password_is_stored_encrypted(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """Someone reading the database does not find the FTP password in clear."""
    await api.post("/configs", json=make_config())
    row = await db.fetchrow("SELECT config::text AS config, secrets FROM product_sync_configs")
    assert row is not None
    assert "ftp-pass-Secr3t" not in row["config"]
    assert "ftp-pass-Secr3t" not in row["secrets"]
    assert row["secrets"].startswith("gAAAAA")  # a Fernet token


async def test_put_without_password_keeps_the_stored_one(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """Editing a config's name without re-typing the password does not erase the password."""
    from pydantic import SecretStr
    from support import SECRET_KEY

    from erpsync.crypto import SecretBox
    from erpsync.db.configs import get_config

    await api.post("/configs", json=make_config())
    body = make_config(name="ACME renamed")
    del body["credentials"]["password"]
    response = await api.put("/configs/acme-main", json=body)
    assert response.status == 200
    assert (await response.json())["name"] == "ACME renamed"

    masked = make_config(name="ACME again")
    masked["credentials"]["password"] = "***"
    assert (await api.put("/configs/acme-main", json=masked)).status == 200

    stored = await get_config(db, SecretBox(SecretStr(SECRET_KEY)), "acme-main")
    assert stored.config.name == "ACME again"
    assert stored.config.credentials.password is not None
    assert stored.config.credentials.password.get_secret_value() == "ftp-pass-Secr3t"


async def test_put_with_new_password_replaces_it(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A new password in a PUT is the one used from then on."""
    from pydantic import SecretStr
    from support import SECRET_KEY

    from erpsync.crypto import SecretBox
    from erpsync.db.configs import get_config

    await api.post("/configs", json=make_config())
    body = make_config()
    body["credentials"]["password"] = "new-pass-42"
    assert (await api.put("/configs/acme-main", json=body)).status == 200
    stored = await get_config(db, SecretBox(SecretStr(SECRET_KEY)), "acme-main")
    assert stored.config.credentials.password is not None
    assert stored.config.credentials.password.get_secret_value() == "new-pass-42"


async def test_delete_then_404(api: Client, make_config: Any) -> None:
    """A deleted config is gone: reading or deleting it again answers 404."""
    await api.post("/configs", json=make_config())
    assert (await api.delete("/configs/acme-main")).status == 204
    for method in ("GET", "DELETE"):
        response = await api.request(method, "/configs/acme-main")
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_duplicate_id_is_409_and_keeps_the_first(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """Posting an id that exists is refused and the existing config is untouched."""
    await api.post("/configs", json=make_config())
    response = await api.post("/configs", json=make_config(name="Impostor"))
    assert response.status == 409
    assert "acme-main" in (await response.json())["error"]["message"]
    shown = await (await api.get("/configs/acme-main")).json()
    assert shown["name"] == "ACME ERP"
    assert await count_configs(db) == 1


async def test_unknown_ids_are_404(api: Client, make_config: Any) -> None:
    """Every route that takes an id answers 404 for one that does not exist."""
    for method, path, body in (
        ("GET", "/configs/nope", None),
        ("PUT", "/configs/nope", make_config("nope")),
        ("DELETE", "/configs/nope", None),
        ("GET", "/configs/nope/logs", None),
    ):
        response = await api.request(method, path, json=body)
        assert response.status == 404, (method, path)
        assert (await response.json())["error"]["code"] == "not_found"


def _without_host(body: dict[str, Any]) -> dict[str, Any]:
    del body["credentials"]["host"]
    return body


def _without_sku(body: dict[str, Any]) -> dict[str, Any]:
    del body["mapping"]["variant.sku"]
    return body


def _bad_metafield(body: dict[str, Any]) -> dict[str, Any]:
    body["metafield_mappings"][0]["metafieldType"] = "shoe_size"
    return body


BAD_BODIES = [
    pytest.param(
        lambda b: {**b, "connection_type": "gopher"}, "connection_type", id="unknown-connection-type"
    ),
    pytest.param(_without_host, "credentials.host", id="ftp-without-host"),
    pytest.param(lambda b: {**b, "sync_frequency": "-3"}, "sync_frequency", id="negative-frequency"),
    pytest.param(lambda b: {**b, "sync_frequency": "daily"}, "sync_frequency", id="non-numeric-frequency"),
    pytest.param(_without_sku, "mapping", id="mapping-without-sku"),
    pytest.param(_bad_metafield, "metafield_mappings.0.metafieldType", id="unknown-metafield-type"),
    pytest.param(lambda b: {**b, "id": "acme main"}, "id", id="id-with-space"),
    pytest.param(lambda b: {**b, "id": "acme/main"}, "id", id="id-with-slash"),
    pytest.param(lambda b: {**b, "schedule": "every night"}, "schedule", id="bad-cron"),
    pytest.param(lambda b: {**b, "colour": "blue"}, "colour", id="unknown-key"),
]


@pytest.mark.parametrize(("break_body", "field"), BAD_BODIES)
async def test_bad_body_is_422_naming_the_field(
    api: Client, make_config: Any, db: asyncpg.Connection[Any], break_body: Any, field: str
) -> None:
    """A bad config is refused with 422, the error names the field, and nothing is stored."""
    response = await api.post("/configs", json=break_body(make_config()))
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_body"
    assert field in [detail["field"] for detail in error["details"]], error
    assert field.rsplit(".", maxsplit=1)[-1] in error["message"] or error["details"]
    assert await count_configs(db) == 0


async def test_bad_put_changes_nothing(api: Client, make_config: Any) -> None:
    """A PUT that fails validation leaves the stored config exactly as it was."""
    await api.post("/configs", json=make_config())
    response = await api.put("/configs/acme-main", json=make_config(name="X", sync_frequency=-1))
    assert response.status == 422
    assert (await (await api.get("/configs/acme-main")).json())["name"] == "ACME ERP"


async def test_put_cannot_change_the_id(api: Client, make_config: Any) -> None:
    """The id in a PUT body must be the URL's; renaming by PUT is refused."""
    await api.post("/configs", json=make_config())
    response = await api.put("/configs/acme-main", json=make_config("other"))
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "id"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"id": "x", ', 400, "malformed_json"),
        (b"[1, 2]", 400, "http_error"),
        (b"", 400, "http_error"),
    ],
    ids=["truncated-json", "array-not-object", "empty"],
)
async def test_malformed_body_is_400(
    api: Client, db: asyncpg.Connection[Any], raw: bytes, status: int, code: str
) -> None:
    """A body that is not a JSON object gets a clear 400 and nothing is stored."""
    response = await api.post("/configs", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == status
    body = await response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert await count_configs(db) == 0


async def test_oversized_body_is_413(api: Client, make_config: Any, db: asyncpg.Connection[Any]) -> None:
    """A body over 1 MiB is refused before it is parsed, with the limit in the message."""
    body = orjson.dumps(make_config(name="x" * (1024 * 1024 + 10)))
    response = await api.post("/configs", data=io.BytesIO(body), headers={"Content-Type": "application/json"})
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "body_too_large"
    assert "1,048,576" in error["message"]
    assert await count_configs(db) == 0


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [200, 900, 5000])
@pytest.mark.parametrize("where", ["name", "mapping", "credentials", "extra"])
async def test_deeply_nested_body_is_a_clean_4xx(
    api: Client, make_config: Any, db: asyncpg.Connection[Any], depth: int, where: str
) -> None:
    """Nesting a few hundred or thousand levels deep anywhere in the body: 400 or 422, never a 5xx, and
    nothing stored (the parser's depth limit, then the models' types, stop it before anything else)."""
    body = make_config()
    body[where] = "__NESTED__"
    raw = orjson.dumps(body).replace(b'"__NESTED__"', nested(depth))
    response = await api.post("/configs", data=raw, headers={"Content-Type": "application/json"})
    assert response.status in {400, 422}, await response.text()
    assert (await response.json())["error"]["message"]
    assert await count_configs(db) == 0
    put = await api.put(f"/configs/{body['id']}", data=raw, headers={"Content-Type": "application/json"})
    assert put.status in {400, 404, 422}


async def test_http_source_requires_a_url(api: Client, make_config: Any) -> None:
    """An http config without a URL names credentials.url."""
    body = make_config(connection_type="http")
    response = await api.post("/configs", json=body)
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "credentials.url"


async def test_nul_character_is_422_not_a_crash(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A NUL character (which PostgreSQL cannot store) is refused with the field named, not a 500."""
    body = make_config(name="bad\u0000name")
    response = await api.post("/configs", json=body)
    assert response.status == 422
    assert (await response.json())["error"]["details"] == [
        {"field": "name", "message": "NUL characters are not allowed in text"}
    ]
    assert await count_configs(db) == 0


async def test_secret_header_with_dots_survives_a_put(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A secret HTTP header whose name has dots is stored, masked, and kept by a PUT that sends "***"."""
    from pydantic import SecretStr
    from support import SECRET_KEY

    from erpsync.crypto import SecretBox
    from erpsync.db.configs import get_config

    body = make_config(connection_type="http")
    body["credentials"] = {"url": "https://erp.example/feed.csv", "headers": {"X.Api.Key": "k3y-v4lue"}}
    assert (await api.post("/configs", json=body)).status == 201
    shown = await (await api.get("/configs/acme-main")).json()
    assert shown["credentials"]["headers"] == {"X.Api.Key": "***"}
    body["credentials"]["headers"] = {"X.Api.Key": "***"}
    body["name"] = "renamed"
    assert (await api.put("/configs/acme-main", json=body)).status == 200
    stored = await get_config(db, SecretBox(SecretStr(SECRET_KEY)), "acme-main")
    assert stored.config.credentials.headers["X.Api.Key"].get_secret_value() == "k3y-v4lue"
