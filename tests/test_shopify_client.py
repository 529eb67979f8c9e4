"""The Shopify client against the simulator: auth, throttling, retries and the errors a user reads."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import SecretStr

from erpsync.shopify import documents
from erpsync.shopify.auth import ClientCredentialsToken
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.errors import (
    ShopifyAuthError,
    ShopifyRequestError,
    ShopifyRetriesExhausted,
    ShopifyTransientError,
)
from erpsync.shopify.throttle import Throttle

LOCATIONS = {"first": 10}


async def test_static_token_reads_the_shop(shopify: Any) -> None:
    """With a static token the client reads the shop and its locations."""
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        data = await client.execute(documents.LOCATIONS, LOCATIONS)
    assert data["locations"]["nodes"][0]["id"].startswith("gid://shopify/Location/")


async def test_wrong_token_is_an_auth_error_naming_the_shop(shopify: Any) -> None:
    """A wrong static token fails at once with the shop named, and is not retried."""
    target = shopify.target(access_token=SecretStr("shpat_wrong"))
    async with ShopifyClient(target, throttle=Throttle()) as client:
        with pytest.raises(ShopifyAuthError, match=r"acme\.myshopify\.com"):
            await client.execute(documents.LOCATIONS, LOCATIONS)
        assert client.stats.requests == 1


async def test_unknown_api_version_is_a_clear_error(shopify: Any) -> None:
    """A malformed API version is reported with the version in the message."""
    async with ShopifyClient(shopify.target(api_version="2026-13x"), throttle=Throttle()) as client:
        with pytest.raises(ShopifyRequestError, match="2026-13x"):
            await client.execute(documents.LOCATIONS, LOCATIONS)


async def test_client_credentials_grant_and_refresh_after_401(start_shopify: Any) -> None:
    """Dev Dashboard apps get a token by the grant; when it expires early, one 401 triggers a refresh."""
    shopify = await start_shopify(client_id="app-id", client_secret="app-secret", granted_token_lifetime=1.0)
    target = shopify.target(access_token=None, client_id="app-id", client_secret=SecretStr("app-secret"))
    tokens = ClientCredentialsToken(
        shop=target.shop, url=target.token_url, client_id="app-id", client_secret=SecretStr("app-secret")
    )
    async with ShopifyClient(target, throttle=Throttle(), tokens=tokens) as client:
        await client.execute(documents.LOCATIONS, LOCATIONS)
        first = tokens._token
        tokens._expires_at = time.monotonic() + 3600  # the client believes it valid; the shop does not
        await asyncio.sleep(1.1)
        await client.execute(documents.LOCATIONS, LOCATIONS)
        assert tokens._token is not None
        assert tokens._token != first


async def test_refused_grant_names_the_shop_and_client(start_shopify: Any) -> None:
    """A wrong client secret is an auth error that names the shop and the client id."""
    shopify = await start_shopify(client_id="app-id", client_secret="app-secret")
    target = shopify.target(access_token=None, client_id="app-id", client_secret=SecretStr("nope"))
    async with ShopifyClient(target, throttle=Throttle()) as client:
        with pytest.raises(ShopifyAuthError, match=r"acme\.myshopify\.com.*'app-id'"):
            await client.execute(documents.LOCATIONS, LOCATIONS)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_query_survives_transient_http_errors(shopify: Any, status: int) -> None:
    """A few 5xx or 429 answers cost retries, not the sync."""
    await shopify.faults(fail_requests=2, status=status)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        data = await client.execute(documents.LOCATIONS, LOCATIONS)
        assert data["locations"]["nodes"]
        assert client.stats.retries == 2


async def test_query_survives_dropped_connections(shopify: Any) -> None:
    """A connection dropped mid-request is retried for queries."""
    await shopify.faults(drop_connections=2)
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        assert (await client.execute(documents.LOCATIONS, LOCATIONS))["locations"]
        assert client.stats.retries == 2


async def test_mutation_not_retried_after_a_5xx(shopify: Any) -> None:
    """A 5xx after a mutation was sent may mean it ran: it is not sent twice."""
    await shopify.faults(fail_requests=1, status=503)
    variables = {"mutation": documents.PRODUCT_DELETE_BULK.text, "stagedUploadPath": "tmp/none"}
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        with pytest.raises(ShopifyTransientError, match="503"):
            await client.execute(documents.BULK_OPERATION_RUN_MUTATION, variables)
        assert client.stats.requests == 1


async def test_mutation_retried_after_429(shopify: Any) -> None:
    """A 429 means Shopify ran nothing, so even a mutation is retried."""
    await shopify.faults(fail_requests=1, status=429)
    variables = {
        "input": [
            {
                "resource": "BULK_MUTATION_VARIABLES",
                "filename": "a.jsonl",
                "mimeType": "text/jsonl",
                "httpMethod": "POST",
            }
        ]
    }
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        data = await client.execute(documents.STAGED_UPLOADS_CREATE, variables)
        assert data["stagedUploadsCreate"]["stagedTargets"]
        assert client.stats.retries == 1


async def test_retries_are_bounded_and_name_the_operation(shopify: Any) -> None:
    """A shop that keeps failing ends in one clear error naming the operation, after the bound."""
    await shopify.faults(fail_requests=50, status=502)
    async with ShopifyClient(shopify.target(max_retries=3), throttle=Throttle()) as client:
        with pytest.raises(ShopifyRetriesExhausted, match="operation locations") as raised:
            await client.execute(documents.LOCATIONS, LOCATIONS)
        assert client.stats.requests == 4
    assert "502" in str(raised.value)
    assert raised.value.request_id  # Shopify's X-Request-Id, for a support ticket


async def test_burst_of_500_queries_respects_the_bucket(start_shopify: Any) -> None:
    """500 concurrent queries on the standard plan (100 pts/s) finish with at most a handful of THROTTLED
    answers, and no more cost than the bucket plus what the restore rate gave back meanwhile."""
    bucket = 100.0
    shopify = await start_shopify(plan="standard", bucket_size=bucket)
    throttle = Throttle()
    started = time.monotonic()
    async with ShopifyClient(shopify.target(), throttle=throttle) as client:
        results = await asyncio.gather(*(client.execute(documents.SHOP) for _ in range(500)))
    elapsed = time.monotonic() - started
    assert all(result["shop"]["name"] for result in results)
    stats = await shopify.stats()
    assert stats["throttled"] <= 5, stats
    assert stats["cost_spent"] <= bucket + 100.0 * elapsed + 1e-6
    assert throttle.stats.waits > 0  # the client paced itself rather than being refused
