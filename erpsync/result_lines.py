"""What a bulk result line may be trusted for: checked against the line sent, and told transient or not.

A result line is joined to its input by `__lineNumber` alone. A shop (or a simulator) that splits the
uploaded JSONL elsewhere than at `\\n` answers line N with another line's product (contract evidence,
finding 2), so before a line is recorded its product must be the one the line named — the id sent, and
the SKUs sent — or the line fails loudly instead of writing one product's ids onto another.

A single line can also fail with a transient top-level error and a null payload (contract evidence,
finding 1: "This product is currently being modified. Please try again later.",
`TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT`); such a line is sent again within the run, a bounded
number of times. userErrors are the shop refusing the input and stay failures.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from erpsync.shopify.bulk import LineOutcome

# Top-level error codes worth sending the line again for: the recorded per-product lock, and the Admin
# API's retryable codes. https://shopify.dev/docs/api/admin-graphql#status-and-error-codes
TRANSIENT_CODES = frozenset(
    {"TOO_MANY_PARALLEL_REQUESTS_FOR_THIS_PRODUCT", "INTERNAL_SERVER_ERROR", "THROTTLED"}
)
# Follow-up operations a transiently failing line gets within one run before it counts as failed.
LINE_RETRIES = 3
MISMATCH_CODE = "RESULT_LINE_MISMATCH"
TRANSIENT = "transient"


def is_transient(outcome: LineOutcome) -> bool:
    """A top-level error (not a userError) the shop says will pass: by code, or by the recorded text
    alone (older THROTTLED bodies carry no code)."""
    if outcome.status != "errors":
        return False
    for error in outcome.errors:
        code = str((error.get("extensions") or {}).get("code") or error.get("code") or "")
        text = str(error.get("message") or "").lower()
        if code == MISMATCH_CODE:
            return False
        if code in TRANSIENT_CODES or text == "throttled":
            return True
        if "currently being modified" in text and "try again later" in text:
            return True
    return False


def transient_attempts(retry: str | None) -> int:
    """How many times the line was already sent again for a transient error (`retry` = "… transient:N")."""
    for part in (retry or "").split():
        if part.startswith(f"{TRANSIENT}:"):
            return int(part.partition(":")[2])
    return 0


def with_transient(retry: str | None, attempts: int) -> str:
    """`retry` keeping its other reasons (a handle retry stays one), with the transient count set."""
    kept = [part for part in (retry or "").split() if not part.startswith(f"{TRANSIENT}:")]
    return " ".join([*kept, f"{TRANSIENT}:{attempts}"])


def retry_reasons(retry: str | None) -> set[str]:
    return {part.partition(":")[0] for part in (retry or "").split()}


def mismatch(outcome: LineOutcome, sent: dict[str, Any] | None) -> str | None:
    """Why a successful line's product is not the one its line named, or None when it is (or the line
    names nothing checkable: a stock line, an owner mark, a file from before lines were checked)."""
    if sent is None or outcome.status != "ok" or outcome.payload is None:
        return None
    payload = outcome.payload
    if "deletedProductId" in payload:
        answered = payload.get("deletedProductId")
        if sent.get("id") and answered and answered != sent["id"]:
            return f"it deleted {answered}, the line named {sent['id']}"
        return None
    product = payload.get("product")
    if not isinstance(product, dict):
        return None
    if sent.get("id") and product.get("id") != sent["id"]:
        return f"it answered for product {product.get('id')}, the line named {sent['id']}"
    sent_variants = set(sent.get("variant_ids") or ())
    answered_variants = {str(node.get("id")) for node in payload.get("productVariants") or [] if node}
    # A variant update answers with the variants it updated ("The updated variants", the mutation's doc):
    # every one its line named.
    if sent_variants and not sent_variants <= answered_variants:
        return (
            f"it answered with variants {', '.join(sorted(answered_variants)) or 'none'}, "
            f"the line sent {', '.join(sorted(sent_variants))}"
        )
    sent_skus = {str(sku).strip() for sku in sent.get("skus") or ()}
    nodes = (product.get("variants") or {}).get("nodes") or []
    answered_skus = {str(node["sku"]).strip() for node in nodes if node.get("sku")}
    # The answer lists the first 250 variants only (a product may hold more), so it may lack SKUs sent;
    # another line's product holds a SKU this line did not send, or none that it did.
    if sent_skus and (answered_skus - sent_skus or not answered_skus & sent_skus):
        return (
            f"it answered with SKUs {', '.join(sorted(answered_skus)) or 'none'}, "
            f"the line sent {', '.join(sorted(sent_skus))}"
        )
    return None


def checked(outcome: LineOutcome, sent: dict[str, Any] | None) -> LineOutcome:
    """The outcome, or a failure naming the mismatch, so the wrong product is never recorded."""
    reason = mismatch(outcome, sent)
    if reason is None:
        return outcome
    error = {
        "message": f"result line {outcome.line_number} does not match what was sent ({reason}); not recorded",
        "extensions": {"code": MISMATCH_CODE},
    }
    return dataclasses.replace(outcome, status="errors", payload=None, errors=(error,))


def is_mismatch(outcome: LineOutcome) -> bool:
    return any((error.get("extensions") or {}).get("code") == MISMATCH_CODE for error in outcome.errors)
