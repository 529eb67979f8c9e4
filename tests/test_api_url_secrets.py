"""A feed URL's credentials (`?token=`, `&sig=`, `user:pass@`) are shown as "***" like a password, stored
encrypted, and kept whole by a PUT that sends the shown URL back."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from support import SECRET_KEY

from erpsync.crypto import SecretBox
from erpsync.db.configs import get_config

Client = TestClient[Any, Any]
URL = "https://erp:Hunter2-pw@erp.example/export.csv?token=abc123&page=2&api_key=K3y-v4l&sig=s1gn4ture"
SHOWN = "https://erp:***@erp.example/export.csv?token=***&page=2&api_key=***&sig=***"
SECRETS = ("Hunter2-pw", "abc123", "K3y-v4l", "s1gn4ture")


def http_config(make_config: Any, url: str) -> dict[str, Any]:
    body: dict[str, Any] = make_config(connection_type="http", credentials={"url": url}, format="csv")
    return body


async def stored_url(db: asyncpg.Connection[Any]) -> str | None:
    return (await get_config(db, SecretBox(SecretStr(SECRET_KEY)), "acme-main")).config.credentials.url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, SHOWN),
        ("https://erp.example/a.csv?key=k&password=p&access_token=t", "https://erp.example/a.csv?key=***&password=***&access_token=***"),
        ("https://erp.example/a.csv?X-Amz-Signature=ff00&X-Amz-Date=20261125", "https://erp.example/a.csv?X-Amz-Signature=***&X-Amz-Date=20261125"),
        ("https://erp.example/a.csv?page=2&monkey=1", "https://erp.example/a.csv?page=2&monkey=1"),
    ],
    ids=["token-and-userinfo", "key-password-access-token", "presigned", "nothing-secret"],
)  # fmt: skip
async def test_url_credentials_are_masked_in_every_view(
    api: Client, make_config: Any, db: asyncpg.Connection[Any], url: str, shown: str
) -> None:
    """POST's answer, GET of the config and the list all show the URL with its credentials as "***" and
    its other parameters as written; the database holds them only encrypted; the sync reads the real URL."""
    created = await api.post("/configs", json=http_config(make_config, url))
    assert created.status == 201, await created.text()
    views = [await created.json(), await (await api.get("/configs/acme-main")).json()]
    views += await (await api.get("/configs")).json()
    assert [view["credentials"]["url"] for view in views] == [shown] * 3
    plain = await db.fetchval("SELECT config::text || coalesce(secrets, '') FROM product_sync_configs")
    for secret in SECRETS:
        assert secret not in plain, secret
    assert await stored_url(db) == url


async def test_put_of_the_shown_url_keeps_its_credentials(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A client that GETs a config and PUTs it back unchanged (URL masked) keeps the stored token and
    password; a PUT with a new token replaces just that one."""
    assert (await api.post("/configs", json=http_config(make_config, URL))).status == 201
    shown = await (await api.get("/configs/acme-main")).json()
    body = {key: value for key, value in shown.items() if key not in {"created_at", "updated_at"}}
    body["name"] = "renamed"
    response = await api.put("/configs/acme-main", json=body)
    assert response.status == 200, await response.text()
    assert (await response.json())["credentials"]["url"] == SHOWN
    assert await stored_url(db) == URL

    body["credentials"]["url"] = SHOWN.replace("token=***", "token=n3w-t0ken")
    assert (await api.put("/configs/acme-main", json=body)).status == 200
    assert await stored_url(db) == URL.replace("token=abc123", "token=n3w-t0ken")


async def test_masked_credential_with_nothing_stored_is_422(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A PUT whose URL has "***" where the stored URL has no such credential is refused naming
    credentials.url and the parameter, and the stored URL is unchanged."""
    plain = "https://erp.example/export.csv?page=2"
    assert (await api.post("/configs", json=http_config(make_config, plain))).status == 201
    body = http_config(make_config, "https://erp.example/export.csv?page=2&token=***")
    response = await api.put("/configs/acme-main", json=body)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_config"
    assert "credentials.url" in error["message"]
    assert "token" in error["message"]
    assert await stored_url(db) == plain
