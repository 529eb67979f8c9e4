"""Everything that can go wrong talking to Shopify, as one tree; each error names the operation.

ShopifyError                      operation, request_id, status
├── ShopifyAuthError              401/403, ACCESS_DENIED, a refused client credentials grant
├── ShopifyShopUnavailable        402 frozen, 423 locked, SHOP_INACTIVE: nothing to do but wait
├── ShopifyRequestError           400/404, a query Shopify refused (our bug): never retried
│   └── ShopifyCostExceeded       MAX_COST_EXCEEDED: split the query, never resend it as is
├── ShopifyTransientError         5xx, timeouts, dropped connections (retryable)
│   ├── ShopifyThrottled          429, THROTTLED by code or by message: Shopify ran nothing (retryable)
│   └── ShopifyRetriesExhausted   still failing after the retry bound
├── ShopifyUserErrors             a mutation's userErrors (business refusal; never retried)
└── BulkOperationError            a bulk operation failed, was canceled, or could not start
    └── BulkLimitReached          busy by code or by message (retryable: wait for a slot)
"""

from __future__ import annotations

from typing import Any

from erpsync.errors import ErpsyncError


class ShopifyError(ErpsyncError):
    """Base: carries the operation name, Shopify's X-Request-Id and the HTTP status when known."""

    def __init__(
        self, message: str, *, operation: str = "", request_id: str | None = None, status: int | None = None
    ) -> None:
        details = [
            part
            for part in (operation and f"operation {operation}", request_id and f"request {request_id}")
            if part
        ]
        super().__init__(f"{message} ({', '.join(details)})" if details else message)
        self.operation = operation
        self.request_id = request_id
        self.status = status


class ShopifyAuthError(ShopifyError):
    """The token or the app's credentials were refused."""


class ShopifyShopUnavailable(ShopifyError):
    """The shop is frozen, locked or inactive; the run fails rather than hammering it."""


class ShopifyRequestError(ShopifyError):
    """Shopify refused the request as malformed; resending it unchanged cannot help."""


class ShopifyCostExceeded(ShopifyRequestError):
    """The query's requested cost is above the single-query maximum (1000)."""


class ShopifyTransientError(ShopifyError):
    """A fault that a later attempt may not meet."""

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, reached_shopify: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        # False when Shopify certainly did not run the request (refused connection, 429, THROTTLED),
        # which makes even a mutation safe to send again.
        self.reached_shopify = reached_shopify


class ShopifyThrottled(ShopifyTransientError):
    """The bucket was short (THROTTLED) or the shop answered 429: nothing ran, so any request may go again.

    `retry_after` is the shop's `Retry-After` when it sent one; otherwise the throttle works out the wait,
    never shorter than `least_wait`. `reported` says whether the reply carried `throttleStatus`.
    """

    def __init__(
        self, message: str, *, reported: bool = False, least_wait: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(message, reached_shopify=False, **kwargs)
        self.reported = reported
        self.least_wait = least_wait


class ShopifyRetriesExhausted(ShopifyTransientError):
    """The retry bound was reached; the last fault is the cause."""


class ShopifyUserErrors(ShopifyError):
    """A mutation answered with userErrors; `errors` holds them as Shopify sent them."""

    def __init__(self, errors: list[dict[str, Any]], *, operation: str = "") -> None:
        summary = "; ".join(
            f"{'.'.join(str(p) for p in error.get('field') or []) or '-'}: {error.get('message')}"
            for error in errors
        )
        super().__init__(f"Shopify refused: {summary}", operation=operation)
        self.errors = errors


class BulkOperationError(ShopifyError):
    """A bulk operation could not start, failed, or was canceled."""

    def __init__(
        self, message: str, *, code: str | None = None, operation_id: str | None = None, **kwargs: Any
    ):
        super().__init__(message, **kwargs)
        self.code = code
        self.operation_id = operation_id


class BulkLimitReached(BulkOperationError):
    """Every bulk slot of the shop is busy; wait and try again."""

    retryable = True
