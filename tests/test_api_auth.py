"""Bearer authentication: every route but /health needs the token; no token means no data."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from erpsync.api.app import init_app
from erpsync.errors import SettingsError
from erpsync.settings import ApiSettings, Settings

PROTECTED = [
    ("GET", "/configs"),
    ("POST", "/configs"),
    ("GET", "/configs/acme-main"),
    ("PUT", "/configs/acme-main"),
    ("DELETE", "/configs/acme-main"),
    ("GET", "/configs/acme-main/logs"),
    ("GET", "/logs"),
    ("GET", "/openapi.json"),
    ("POST", "/sync/acme-main"),
    ("GET", "/sync/status"),
    ("GET", "/runs/1"),
    ("GET", "/runs/1/changes"),
    ("GET", "/configs/acme-main/products/SKU-1/history"),
    ("GET", "/configs/acme-main/runs"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic dGVzdDp0ZXN0", "Bearer"])
@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_missing_or_wrong_token_is_401(
    api: TestClient[Any, Any], method: str, path: str, header: str | None
) -> None:
    """Without the right bearer token, no route answers anything but 401."""
    headers = {"Authorization": header} if header else {}
    async with ClientSession() as session:
        url = api.make_url(path)
        response = await session.request(
            method, url, headers=headers, json={} if method in {"POST", "PUT"} else None
        )
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_health_needs_no_token(api: TestClient[Any, Any]) -> None:
    """A load balancer can probe /health without credentials."""
    async with ClientSession() as session:
        response = await session.get(api.make_url("/health"))
        assert response.status == 200


def test_refuses_public_host_without_token(settings: Settings) -> None:
    """Listening on 0.0.0.0 without a token is refused at start-up, with the fix in the message."""
    exposed = settings.model_copy(update={"api": ApiSettings(host="0.0.0.0", token=None)})
    with pytest.raises(SettingsError, match=r"api\.token"):
        init_app(exposed)


def test_public_host_with_token_is_allowed(settings: Settings) -> None:
    """With a token set, the API may listen beyond loopback."""
    exposed = settings.model_copy(update={"api": ApiSettings(host="0.0.0.0", token=SecretStr("t0ken-long"))})
    assert init_app(exposed) is not None
