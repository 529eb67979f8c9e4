"""Bulk query exports: run `bulkOperationRunQuery`, then stream the JSONL back as nested objects.

Nested connections come back as separate lines carrying `__parentId`. With `groupObjects: true` a
parent's children follow it directly, so `assemble` can hand out each product as soon as the next one
starts and memory stays flat in the number of products. Children that arrive before their parent
(possible without grouping) are held until it appears.
https://shopify.dev/docs/api/usage/bulk-operations/queries
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from erpsync.shopify.bulk import (
    BulkOperation,
    ProgressCallback,
    iter_jsonl,
    start_query,
    wait_for_operation,
    wait_for_slot,
)
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.lifecycle import export_failure


@dataclass
class ExportNode:
    """One exported object with its children, grouped by GID type (`ProductVariant`, `Metafield`, ...)."""

    data: dict[str, Any]
    children: dict[str, list[ExportNode]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    def add(self, child: ExportNode) -> None:
        self.children.setdefault(gid_type(child.id), []).append(child)


def gid_type(gid: str) -> str:
    """`gid://shopify/ProductVariant/2` → `ProductVariant`."""
    parts = gid.split("/")
    return parts[3] if len(parts) > 4 else ""


async def run_export(
    client: ShopifyClient, query: str, *, on_progress: ProgressCallback | None = None
) -> BulkOperation:
    """Start the export (waiting for a slot) and wait until it completes; an export Shopify stopped
    (TIMEOUT, ACCESS_DENIED, INTERNAL_SERVER_ERROR, or canceled or expired) raises one clear error."""
    started = await wait_for_slot(lambda: start_query(client, query, group_objects=True), client)
    operation = await wait_for_operation(client, started.id, on_progress=on_progress)
    if operation.status != "COMPLETED":
        raise export_failure(operation.id, operation.status, operation.error_code)
    return operation


async def iter_export(client: ShopifyClient, operation: BulkOperation) -> AsyncIterator[ExportNode]:
    """Top-level objects of a completed export, each with its descendants attached."""
    if operation.url is None:  # an export that matched nothing has no file
        return
    async for node in assemble(iter_jsonl(client.session, operation.url)):
        yield node


async def assemble(lines: AsyncIterator[dict[str, Any]]) -> AsyncIterator[ExportNode]:
    """Rebuild the tree from flat lines; a root is yielded once the next root begins (or at the end)."""
    current: ExportNode | None = None
    index: dict[str, ExportNode] = {}
    orphans: dict[str, list[ExportNode]] = {}
    async for line in lines:
        parent_id = line.pop("__parentId", None)
        node = ExportNode(line)
        for orphan in orphans.pop(node.id, []):
            node.add(orphan)
        if parent_id is None:
            if current is not None:
                yield current
            current = node
            index = {node.id: node}
            continue
        parent = index.get(parent_id)
        if parent is None:
            orphans.setdefault(parent_id, []).append(node)
        else:
            parent.add(node)
        index[node.id] = node
    if current is not None:
        yield current
    for parent_id, children in orphans.items():
        # Children whose parent never came: hand them out under a placeholder rather than lose them.
        placeholder = ExportNode({"id": parent_id, "__missing": True})
        for child in children:
            placeholder.add(child)
        yield placeholder
