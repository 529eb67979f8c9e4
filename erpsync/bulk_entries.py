"""The entries of `sync_runs.bulk_operations`: one per JSONL file a run sends, with what runs it.

An entry names its file, its mutation document and its step, and carries the operation's id once started
and a marker of its own: the operation name its mutation is sent under (and its `clientIdentifier`), by
which a file started but never recorded is found again among the shop's recent operations.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from pathlib import Path
from typing import Any

from erpsync.shopify import documents
from erpsync.shopify.bulk_files import BulkFile
from erpsync.shopify.documents import Document

# Below this many lines a file is not split further: an operation has a fixed start-up cost.
MIN_LINES_PER_OPERATION = 1000
DOCUMENTS = {
    doc.name: doc
    for doc in (
        documents.PRODUCT_SET_BULK,
        documents.PRODUCT_DELETE_BULK,
        documents.PRODUCT_VARIANTS_BULK_UPDATE_BULK,
        documents.INVENTORY_ACTIVATE_BULK,
        documents.INVENTORY_SET_QUANTITIES_BULK,
        documents.METAFIELDS_SET_BULK,
    )
}


def lines_per_file(total: int, concurrency: int) -> int:
    """Spread lines over up to `concurrency` operations, but never into tiny ones."""
    return max(MIN_LINES_PER_OPERATION, math.ceil(total / max(1, concurrency)))


def new_entry(file: BulkFile, document: str, step: str) -> dict[str, Any]:
    """The entry of a file not yet sent."""
    # A GraphQL name: letters, digits, underscores; 10-255 characters as `clientIdentifier` (2027-01).
    marker = f"erpsync_{file.path.stem.replace('-', '_')}_{secrets.token_hex(6)}"
    return {
        "document": document,
        "file": str(file.path),
        "keys": str(file.keys_path),
        "lines": file.lines,
        "size": file.size,
        "id": None,
        "status": None,
        "done": False,
        "step": step,
        "marker": marker,
    }


def entry_file(entry: dict[str, Any]) -> BulkFile:
    return BulkFile(Path(entry["file"]), Path(entry["keys"]), int(entry["lines"]), int(entry["size"]))


def named_document(entry: dict[str, Any]) -> Document:
    """The entry's mutation under its own operation name, which the shop keeps in `BulkOperation.query`."""
    document = DOCUMENTS[entry["document"]]
    marker = entry.get("marker")
    if not marker:
        return document
    return dataclasses.replace(
        document, text=document.text.replace("mutation call(", f"mutation {marker}(", 1)
    )
