"""How a Shopify reply is read: what an HTTP status or a GraphQL `errors` list means, as a typed error.

No I/O here: the client sends, then asks these functions what came back. THROTTLED is known by
`extensions.code` and, since older replies carried no code, by the exact message Shopify sent:
`{"errors":[{"message":"Throttled"}]}` (recorded 2020,
https://community.shopify.com/t/graphql-admin-api-example-throttled-requests-response/8456).
A 429 is throttling too, whatever its body: https://shopify.dev/docs/api/usage/response-codes
"""

from __future__ import annotations

from typing import Any

import orjson

from erpsync.shopify.errors import (
    ShopifyAuthError,
    ShopifyCostExceeded,
    ShopifyError,
    ShopifyRequestError,
    ShopifyShopUnavailable,
    ShopifyThrottled,
    ShopifyTransientError,
)

THROTTLED_MESSAGE = "throttled"
# A 429 without Retry-After waits at least this long, as Shopify's own client does (RETRY_WAIT_TIME):
# https://github.com/Shopify/shopify-app-js/blob/main/packages/api-clients/graphql-client/src/graphql-client/constants.ts
LEAST_429_WAIT = 1.0


def cost_of(body: Any) -> dict[str, Any] | None:
    """`extensions.cost` of a reply body, when the body has one."""
    if not isinstance(body, dict):
        return None
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    return cost if isinstance(cost, dict) else None


def reports_bucket(body: Any) -> bool:
    """Whether the reply says how full the bucket is (`throttleStatus.currentlyAvailable`)."""
    status = (cost_of(body) or {}).get("throttleStatus")
    return isinstance(status, dict) and status.get("currentlyAvailable") is not None


def error_code(error: dict[str, Any]) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return str(code) if code is not None else None


def is_throttled(errors: list[Any]) -> bool:
    """THROTTLED by code, or by the recorded message alone on an error that has no code."""
    for error in errors:
        if not isinstance(error, dict):
            continue
        code = error_code(error)
        if code == "THROTTLED":
            return True
        if code is None and str(error.get("message") or "").strip().lower() == THROTTLED_MESSAGE:
            return True
    return False


def json_body(text: str) -> Any:
    """The body of a non-200 reply as JSON, or None when it is empty or not JSON."""
    try:
        return orjson.loads(text) if text.strip() else None
    except orjson.JSONDecodeError:
        return None


def retry_after_of(value: str | None) -> float | None:
    """`Retry-After` in seconds (the delta form Shopify sends), or None when absent or unreadable."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def status_error(
    status: int,
    text: str,
    *,
    shop: str,
    graphql_url: str,
    api_version: str,
    retry_after: str | None,
    where: dict[str, Any],
) -> ShopifyError:
    """The error a non-200, non-401 reply stands for."""
    if status == 429:
        return ShopifyThrottled(
            f"{shop} answered 429 Too Many Requests",
            retry_after=retry_after_of(retry_after),
            reported=reports_bucket(json_body(text)),
            least_wait=LEAST_429_WAIT,
            **where,
        )
    text = text[:300]
    if status >= 500:
        return ShopifyTransientError(f"{shop} answered HTTP {status}: {text}", **where)
    if status in {402, 423}:
        return ShopifyShopUnavailable(f"{shop} is unavailable (HTTP {status}): {text}", **where)
    if status == 403:
        return ShopifyAuthError(f"{shop} denied access (HTTP 403): {text}", **where)
    if status == 404:
        return ShopifyRequestError(
            f"{graphql_url} not found (HTTP 404): is API version {api_version} and shop {shop} right?",
            **where,
        )
    return ShopifyRequestError(f"{shop} refused the request (HTTP {status}): {text}", **where)


def graphql_error(
    errors: Any, *, reported: bool, retry_after: str | None = None, where: dict[str, Any]
) -> ShopifyError:
    """The error a 200 reply's top-level `errors` stands for; `reported`: the reply had throttleStatus."""
    if not isinstance(errors, list):
        return ShopifyRequestError(f"Shopify error: {errors}", **where)
    if is_throttled(errors):
        return ShopifyThrottled(
            "throttled", reported=reported, retry_after=retry_after_of(retry_after), **where
        )
    codes = {error_code(error) for error in errors if isinstance(error, dict)}
    # One line: Shopify's MAX_COST_EXCEEDED message carries paragraphs.
    message = "; ".join(
        " ".join(str(error.get("message")).split()) for error in errors if isinstance(error, dict)
    )
    if "MAX_COST_EXCEEDED" in codes:
        return ShopifyCostExceeded(message, **where)
    if "ACCESS_DENIED" in codes:
        return ShopifyAuthError(f"access denied: {message}", **where)
    if "SHOP_INACTIVE" in codes:
        return ShopifyShopUnavailable(message, **where)
    if "INTERNAL_SERVER_ERROR" in codes:
        return ShopifyTransientError(f"Shopify internal error: {message}", **where)
    return ShopifyRequestError(f"Shopify refused the document: {message}", **where)
