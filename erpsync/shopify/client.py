"""The one place that sends GraphQL to Shopify: auth, throttle, retries, and errors that say what happened.

Queries are retried freely on transient faults. A mutation is retried only when Shopify cannot have
run it (the connection was refused, 429, THROTTLED by code or by message) unless the caller says it is
safe to repeat. userErrors are returned, never retried. What a reply means is read in `replies.py`.
Shopify's own client retries 429/503 and network errors the same way, waiting `Retry-After` or 1 s:
https://github.com/Shopify/shopify-app-js (graphql-client constants).
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
import orjson
from pydantic import SecretStr

from erpsync.logs import get_logger
from erpsync.models import ShopOverride, SyncConfig
from erpsync.settings import Settings, ShopifySettings
from erpsync.shopify.auth import ClientCredentialsToken, StaticToken, TokenSource
from erpsync.shopify.documents import Document
from erpsync.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyRequestError,
    ShopifyRetriesExhausted,
    ShopifyThrottled,
    ShopifyTransientError,
    ShopifyUserErrors,
)
from erpsync.shopify.replies import cost_of, graphql_error, json_body, reports_bucket, status_error
from erpsync.shopify.throttle import Throttle, throttle_for

log = get_logger("erpsync.shopify")


@dataclass(frozen=True, slots=True)
class ShopTarget:
    """Where and how to reach one shop; built from the settings, or a config's own shop."""

    shop: str
    api_version: str = "2026-10"
    base_url: str = ""
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    timeout: float = 60.0
    connect_timeout: float = 10.0
    max_retries: int = 6
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    poll_interval: float = 2.0

    @classmethod
    def from_settings(cls, settings: ShopifySettings, override: ShopOverride | None = None) -> ShopTarget:
        values: dict[str, Any] = settings.model_dump(
            exclude={"shop", "access_token", "client_id", "client_secret"}
        )
        if override is None:
            return cls(
                shop=settings.shop,
                access_token=settings.access_token,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                **values,
            )
        return cls(
            shop=override.shop,
            access_token=override.access_token,
            client_id=override.client_id,
            client_secret=override.client_secret,
            **{**values, "base_url": ""},
        )

    @property
    def root_url(self) -> str:
        return self.base_url.rstrip("/") if self.base_url else f"https://{self.shop}"

    @property
    def graphql_url(self) -> str:
        return f"{self.root_url}/admin/api/{self.api_version}/graphql.json"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}/admin/oauth/access_token"


# One aiohttp session (one connection pool) per shop and event loop, shared by every run of the process.
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


def _new_session(target: ShopTarget) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=None, connect=target.connect_timeout, sock_read=target.timeout)
    return aiohttp.ClientSession(timeout=timeout, raise_for_status=False)


def shared_session(target: ShopTarget) -> aiohttp.ClientSession:
    """The process's session for `target.shop`, made on first use."""
    per_loop = _sessions.setdefault(asyncio.get_running_loop(), {})
    session = per_loop.get(target.shop)
    if session is None or session.closed:
        session = per_loop[target.shop] = _new_session(target)
    return session


async def close_shared_sessions() -> None:
    """Close this loop's shared sessions (at shutdown, and at the end of a command)."""
    for session in _sessions.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


def token_source_for(target: ShopTarget) -> TokenSource:
    if target.access_token is not None:
        return StaticToken(target.access_token)
    if target.client_id and target.client_secret is not None:
        return ClientCredentialsToken(
            shop=target.shop,
            url=target.token_url,
            client_id=target.client_id,
            client_secret=target.client_secret,
        )
    raise ShopifyAuthError(
        f"no credentials for {target.shop}: set access_token, or client_id and client_secret"
    )


@dataclass
class Attempt:
    """What one HTTP exchange produced."""

    body: dict[str, Any]
    request_id: str | None
    retry_after: str | None = None  # the header, should a 200 THROTTLED reply carry one


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    cost: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class ShopifyClient:
    """GraphQL over one aiohttp session per shop, sharing the process-wide throttle of that shop."""

    def __init__(
        self,
        target: ShopTarget,
        *,
        session: aiohttp.ClientSession | None = None,
        throttle: Throttle | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.target = target
        self._session = session
        self._own_session = session is None
        self._throttle = throttle
        self.tokens = tokens if tokens is not None else token_source_for(target)
        self._costs: dict[str, float] = {}
        self.stats = ClientStats()
        self._version_warned = False
        # The version the shop says it answered with (X-Shopify-API-Version), once it has answered.
        self.served_version: str | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = _new_session(self.target)
        return self._session

    @property
    def throttle(self) -> Throttle:
        if self._throttle is None:
            self._throttle = throttle_for(self.target.shop)
        return self._throttle

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def execute(
        self, document: Document, variables: dict[str, Any] | None = None, *, retry_mutation: bool = False
    ) -> dict[str, Any]:
        """Send `document`, waiting for the throttle first; return `data` or raise a typed error."""
        retriable_always = not document.is_mutation or retry_mutation
        attempt = 0
        refreshed = False
        while True:
            cost = self._costs.get(document.name, float(document.estimated_cost))
            try:
                async with self.throttle.reserve(cost):
                    result = await self._send(document, variables)
                    self._observe(document, result.body)  # before the next request may go
                return self._data(document, result)
            except _TokenRejected as rejected:
                if refreshed or not self.tokens.invalidate(rejected.token):
                    raise ShopifyAuthError(
                        f"{self.target.shop} refused the access token (HTTP 401)",
                        operation=document.name,
                        request_id=rejected.request_id,
                        status=401,
                    ) from None
                refreshed = True
            except ShopifyTransientError as exc:
                attempt += 1
                self.stats.errors[type(exc).__name__] = self.stats.errors.get(type(exc).__name__, 0) + 1
                if not (retriable_always or not exc.reached_shopify):
                    raise
                if isinstance(exc, ShopifyThrottled):
                    waited = max(exc.least_wait, self.throttle.throttled_delay(cost, reported=exc.reported))
                    exc.retry_after = waited if exc.retry_after is None else exc.retry_after
                if attempt > self.target.max_retries:
                    raise ShopifyRetriesExhausted(
                        f"gave up after {attempt} attempts: {exc}",
                        operation=document.name,
                        request_id=exc.request_id,
                        status=exc.status,
                    ) from exc
                delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                self.stats.retries += 1
                log.warning(
                    "shopify request retried",
                    operation=document.name,
                    attempt=attempt,
                    delay=round(delay, 2),
                    error=str(exc),
                )
                await asyncio.sleep(delay)

    def requested_cost(self, document: Document) -> float | None:
        """The `requestedQueryCost` Shopify last reported for `document`, once it has answered it."""
        return self._costs.get(document.name)

    def _backoff(self, attempt: int) -> float:
        ceiling: float = min(self.target.retry_max_delay, self.target.retry_base_delay * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    async def _send(self, document: Document, variables: dict[str, Any] | None) -> Attempt:
        token = await self.tokens.token(self.session)
        payload: dict[str, Any] = {"query": document.text}
        if variables is not None:
            payload["variables"] = variables
        headers = {"Content-Type": "application/json", "X-Shopify-Access-Token": token}
        self.stats.requests += 1
        try:
            async with self.session.post(
                self.target.graphql_url, data=orjson.dumps(payload), headers=headers
            ) as response:
                request_id = response.headers.get("X-Request-Id")
                retry_after = response.headers.get("Retry-After")
                self._check_version(response)
                if response.status == 401:
                    raise _TokenRejected(token, request_id)
                if response.status != 200:
                    text = await response.text(errors="replace")
                    self.throttle.observe(cost_of(json_body(text)))  # a 429 may still say the bucket
                    raise status_error(
                        response.status,
                        text,
                        shop=self.target.shop,
                        graphql_url=self.target.graphql_url,
                        api_version=self.target.api_version,
                        retry_after=retry_after,
                        where={
                            "operation": document.name,
                            "request_id": request_id,
                            "status": response.status,
                        },
                    )
                body = await response.json(loads=orjson.loads, content_type=None)
        except aiohttp.InvalidURL as exc:
            raise ShopifyRequestError(
                f"{self.target.graphql_url!r} is not a valid URL: check the shop domain",
                operation=document.name,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise _transient(f"cannot connect to {self.target.shop}: {exc}", document, reached=False) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise _transient(f"connection to {self.target.shop} dropped: {exc}", document) from exc
        except TimeoutError as exc:
            raise _transient(f"{self.target.shop} did not answer in time", document) from exc
        except orjson.JSONDecodeError as exc:
            raise _transient(f"{self.target.shop} sent a body that is not JSON", document) from exc
        if not isinstance(body, dict):
            raise ShopifyRequestError("response is not a JSON object", operation=document.name)
        return Attempt(body=body, request_id=request_id, retry_after=retry_after)

    def _check_version(self, response: aiohttp.ClientResponse) -> None:
        served = response.headers.get("X-Shopify-API-Version")
        if served:
            self.served_version = served
        if served and served != self.target.api_version and not self._version_warned:
            self._version_warned = True
            log.warning("shopify served another api version", asked=self.target.api_version, served=served)

    def _observe(self, document: Document, body: dict[str, Any]) -> None:
        """Feed the reply's cost to the throttle and remember what this document costs."""
        cost_info = cost_of(body)
        self.throttle.observe(cost_info, answered=isinstance(body.get("data"), dict))
        if cost_info and cost_info.get("actualQueryCost") is not None:
            self.stats.cost += float(cost_info["actualQueryCost"])
        if cost_info and cost_info.get("requestedQueryCost") is not None:
            self._costs[document.name] = float(cost_info["requestedQueryCost"])

    def _data(self, document: Document, result: Attempt) -> dict[str, Any]:
        body = result.body
        where: dict[str, Any] = {"operation": document.name, "request_id": result.request_id}
        errors = body.get("errors")
        if errors:
            raise graphql_error(
                errors, reported=reports_bucket(body), retry_after=result.retry_after, where=where
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyRequestError("response has no data", **where)
        return data


def require_no_user_errors(payload: dict[str, Any] | None, operation: str) -> dict[str, Any]:
    """The mutation payload, or `ShopifyUserErrors` when Shopify refused it."""
    if payload is None:
        raise ShopifyError("mutation returned no payload", operation=operation)
    errors = payload.get("userErrors") or []
    if errors:
        raise ShopifyUserErrors(errors, operation=operation)
    return payload


class _TokenRejected(Exception):
    def __init__(self, token: str, request_id: str | None) -> None:
        super().__init__("token rejected")
        self.token = token
        self.request_id = request_id


def _transient(
    message: str,
    document: Document,
    request_id: str | None = None,
    status: int | None = None,
    *,
    reached: bool = True,
) -> ShopifyTransientError:
    return ShopifyTransientError(
        message, operation=document.name, request_id=request_id, status=status, reached_shopify=reached
    )


# How a run gets its shop's client: the process's shared session for the config's shop (tests pass
# their own factory).
ClientFactory = Callable[[SyncConfig], ShopifyClient]


def default_client(settings: Settings) -> ClientFactory:
    def make(config: SyncConfig) -> ShopifyClient:
        target = ShopTarget.from_settings(settings.shopify, config.shop)
        return ShopifyClient(target, session=shared_session(target))

    return make
