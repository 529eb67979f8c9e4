"""Access tokens: a static `shpat_` token, or one obtained by the client credentials grant.

Dev Dashboard apps get tokens that last about 24 h from `POST /admin/oauth/access_token`. The token is
cached, refreshed a few minutes before it expires, and once more when Shopify answers 401 — a token
revoked early must not fail a long sync.
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import aiohttp
from pydantic import SecretStr

from erpsync.logs import register_secret
from erpsync.shopify.errors import ShopifyAuthError, ShopifyTransientError

REFRESH_MARGIN = 300.0  # seconds before expiry at which a new token is fetched


class TokenSource(Protocol):
    async def token(self, session: aiohttp.ClientSession) -> str: ...

    def invalidate(self, token: str) -> bool:
        """Forget `token` after a 401; True when a new one can be fetched (so one retry makes sense)."""
        ...


class StaticToken:
    """A permanent custom-app token: nothing to refresh, so a 401 is final."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token
        register_secret(token)

    async def token(self, session: aiohttp.ClientSession) -> str:
        return self._token.get_secret_value()

    def invalidate(self, token: str) -> bool:
        return False


class ClientCredentialsToken:
    """Fetches, caches and refreshes a token with the app's client id and secret."""

    def __init__(
        self, *, shop: str, url: str, client_id: str, client_secret: SecretStr, timeout: float = 30.0
    ) -> None:
        self.shop = shop
        self.url = url
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        register_secret(client_secret)

    async def token(self, session: aiohttp.ClientSession) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at - REFRESH_MARGIN:
                await self._fetch(session)
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> bool:
        if self._token == token:
            self._token = None
        return True

    async def _fetch(self, session: aiohttp.ClientSession) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret.get_secret_value(),
        }
        try:
            async with session.post(
                self.url, data=form, timeout=aiohttp.ClientTimeout(total=self._timeout)
            ) as response:
                request_id = response.headers.get("X-Request-Id")
                if response.status >= 500 or response.status == 429:
                    raise ShopifyTransientError(
                        f"token request to {self.shop} answered HTTP {response.status}",
                        operation="client_credentials_grant",
                        request_id=request_id,
                        status=response.status,
                    )
                body = await response.json(content_type=None)
                if response.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                    raise ShopifyAuthError(
                        f"{self.shop} refused the client credentials grant for client id {self.client_id!r}: "
                        f"HTTP {response.status} {_describe(body)}",
                        operation="client_credentials_grant",
                        request_id=request_id,
                        status=response.status,
                    )
        except aiohttp.InvalidURL as exc:
            raise ShopifyAuthError(
                f"{self.shop!r} is not a shop domain erpsync can reach ({self.url})",
                operation="client_credentials_grant",
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ShopifyTransientError(
                f"cannot reach {self.shop} for a token: {type(exc).__name__}: {exc}",
                operation="client_credentials_grant",
            ) from exc
        self._token = str(body["access_token"])
        register_secret(self._token)
        self._expires_at = time.monotonic() + float(body.get("expires_in") or 86_399)


def _describe(body: object) -> str:
    if isinstance(body, dict):
        for key in ("error_description", "errors", "error"):
            if key in body:
                return str(body[key])[:200]
    return ""
