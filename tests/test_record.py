"""How each result line is read: which failures are sent again in the run's last step and why."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.record import sort_outcomes
from erpsync.shopify.bulk import LineOutcome

VARIANT_GONE_BC = {"field": ["variants", "0", "id"], "message": "Product variant does not exist"}  # no code
VARIANT_GONE = {
    "field": ["input", "variants", "1", "id"],
    "message": "x",
    "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
}
PRODUCT_GONE = {"field": ["identifier", "id"], "message": "Product does not exist", "code": "NOT_FOUND"}
HANDLE_TAKEN = {"field": ["input", "handle"], "message": "Handle already in use", "code": "HANDLE_NOT_UNIQUE"}
PRICE = {
    "field": ["input", "variants", "0", "price"],
    "message": "Price must be positive",
    "code": "INVALID_VARIANT",
}


@pytest.mark.parametrize(
    ("action", "error", "step", "outcome", "retry"),
    [
        ("update", VARIANT_GONE_BC, "main", "retry", "stale"),
        ("update", VARIANT_GONE, "main", "retry", "stale"),
        ("update", PRODUCT_GONE, "moves", "retry", "stale"),
        ("update", VARIANT_GONE, "retry", "failed", None),
        ("create", HANDLE_TAKEN, "main", "retry", "handle"),
        ("create", HANDLE_TAKEN, "retry", "failed", None),
        ("update", HANDLE_TAKEN, "main", "failed", None),
        ("update", PRICE, "main", "failed", None),
    ],
)
def test_failures_sent_again_once_and_only_for_stale_ids_or_taken_handles(
    action: str, error: dict[str, Any], step: str, outcome: str, retry: str | None
) -> None:
    """A stale id or a taken handle is sent again once in the run's last step; anything else, or a second
    failure, is a failure logged against the product (never a loop, never a write over another product)."""
    line = LineOutcome("P1", 0, "user_errors", {"product": None}, (error,))
    out = sort_outcomes("productSet", [line], {"P1": (action, ["SKU-1"])}, config_id="c", run_id=1, step=step)
    assert out.results[0][:2] == ("P1", outcome)
    assert out.retries.get("P1") == retry
    assert bool(out.logs) == (outcome == "failed" or retry == "handle")
