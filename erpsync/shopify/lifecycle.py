"""How a bulk operation is read back and how its ending is told: by id on every API version, and one
clear line for each way it can end short of COMPLETED.

`bulkOperation(id:)` and `bulkOperations` are new in 2026-01 (Shopify's CLI pins
`BULK_OPERATIONS_MIN_API_VERSION = '2026-01'`; the schema tracker lists both as new top-level queries of
2026-01). Older versions read an operation by id through `node(id:)` and list nothing but the latest of a
type (`currentBulkOperation`). https://shopify.dev/changelog/new-queries-for-bulk-operations

Endings (https://shopify.dev/docs/api/admin-graphql/latest/enums/BulkOperationStatus; recorded replies in
`shared/docs/shopify-contract-evidence.md` finding 7): FAILED carries an `errorCode` and what ran in
`partialDataUrl`; CANCELED may still carry a `url` with the lines that ran; EXPIRED carries no file. Lines no
file mentions are never recorded as written: they are reported unknown and sent again by the next run (a
create is sent by its custom id, so it updates what an unreported line may have created).
"""

from __future__ import annotations

from typing import Any

from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.documents import BULK_OPERATION, BULK_OPERATION_FIELDS, RECENT_BULK_MUTATIONS, Document
from erpsync.shopify.errors import BulkOperationError

BULK_QUERIES_VERSION = "2026-01"
RECENT_PAGES = 4  # 200 operations: far more than one run starts between a crash and its resume

BULK_OPERATION_NODE = Document(
    "bulkOperationNode",
    f"""
query erpsyncBulkOperationNode($id: ID!) {{
  node(id: $id) {{ ... on BulkOperation {{ {BULK_OPERATION_FIELDS} }} }}
}}
""",
    estimated_cost=1,
)

CURRENT_BULK_MUTATION = Document(
    "currentBulkMutation",
    """
query erpsyncCurrentBulkMutation {
  currentBulkOperation(type: MUTATION) { id status query createdAt }
}
""",
    estimated_cost=1,
)

LIFECYCLE_DOCUMENTS = (BULK_OPERATION_NODE, CURRENT_BULK_MUTATION)

# What a merchant or operator can do about an export that Shopify stopped, by `BulkOperationErrorCode`.
EXPORT_ADVICE = {
    "TIMEOUT": (
        "Shopify stopped the export of the shop's products for taking too long; nothing was written. "
        "The next run tries again; if every run times out, ask Shopify support about this operation",
        True,
    ),
    "ACCESS_DENIED": (
        "Shopify refused the export of the shop's products: the app's access token lacks "
        "read access to products; grant the read_products scope to the app and run again",
        False,
    ),
    "INTERNAL_SERVER_ERROR": (
        "Shopify failed while exporting the shop's products; nothing was written. The next run tries again",
        True,
    ),
}


def has_bulk_queries(api_version: str) -> bool:
    """Whether this API version has `bulkOperation(id:)` and `bulkOperations`."""
    return api_version >= BULK_QUERIES_VERSION or api_version == "unstable"


async def read_operation_node(client: ShopifyClient, operation_id: str) -> dict[str, Any]:
    """The operation's fields, by `bulkOperation(id:)` where the version has it, else `node(id:)`."""
    if has_bulk_queries(client.target.api_version):
        data = await client.execute(BULK_OPERATION, {"id": operation_id})
        node = data.get("bulkOperation")
    else:
        data = await client.execute(BULK_OPERATION_NODE, {"id": operation_id})
        node = data.get("node")
    if not node or "status" not in node:
        raise BulkOperationError(f"bulk operation {operation_id} does not exist", operation_id=operation_id)
    return dict(node)


async def find_started_mutation(client: ShopifyClient, marker: str) -> str | None:
    """The id of a recent bulk mutation whose text carries `marker` (its operation name), if one exists.

    Before 2026-01 only the latest mutation can be read back: enough, since one runs at a time there."""
    if not has_bulk_queries(client.target.api_version):
        data = await client.execute(CURRENT_BULK_MUTATION, {})
        node = data.get("currentBulkOperation") or {}
        return str(node["id"]) if marker in str(node.get("query") or "") else None
    after: str | None = None
    for _ in range(RECENT_PAGES):
        data = await client.execute(RECENT_BULK_MUTATIONS, {"first": 50, "after": after})
        page = data["bulkOperations"]
        for node in page["nodes"]:
            if marker in str(node.get("query") or ""):
                return str(node["id"])
        if not page["pageInfo"]["hasNextPage"]:
            return None
        after = page["pageInfo"]["endCursor"]
    return None


def ending_line(operation_id: str, status: str, error_code: str | None, *, has_file: bool) -> str | None:
    """One line for an operation that did not complete: what ended it and what becomes of its lines."""
    if status == "COMPLETED":
        return None
    kept = "the lines it reported are recorded" if has_file else "it reported no line"
    rest = "every other line is sent again by the next run"
    if status == "EXPIRED":
        return f"bulk operation {operation_id} expired before it finished; {kept}; {rest}"
    if status == "CANCELED":
        return f"bulk operation {operation_id} was canceled in the shop; {kept}; {rest}"
    code = f" ({error_code})" if error_code else ""
    return f"bulk operation {operation_id} ended {status}{code}; {kept}; {rest}"


def export_failure(operation_id: str, status: str, error_code: str | None) -> BulkOperationError:
    """The error for an export that did not complete: what happened and what to do, on one line."""
    advice, retryable = EXPORT_ADVICE.get(
        error_code or "",
        (
            f"the export of the shop's products ended {status}; nothing was written. The next run tries again",
            True,
        ),
    )
    code = f" ({error_code})" if error_code else ""
    error = BulkOperationError(
        f"export {operation_id} ended {status}{code}: {advice}", code=error_code, operation_id=operation_id
    )
    error.retryable = retryable
    return error
