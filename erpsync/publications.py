"""Sales channels: the products a config creates are published on the publications it names.

Shopify publishes a product made through the API nowhere ("Products with an active status aren't
automatically published to sales channels", shopify.dev enums/ProductStatus): a merchant would find it in
the admin but not in the Online Store. After a run's writes, `publishablePublish` puts the products it
created (and those it brought back from `archive`/`draft`) on them, one bulk operation for many, a call
each for a few; `publishableUnpublish` takes the products it archived or drafted off the same ones. ARCHIVED and DRAFT
already make a product unavailable on every channel; unpublishing as well keeps the channel's listing
clean and makes a later un-archive in the admin a deliberate publish. Products erpsync only updates are
left where the merchant put them. Publishing is idempotent, so a resumed run simply sends it again.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/publishablePublish
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from erpsync.db import publications as channel_store
from erpsync.db.logs import add_logs
from erpsync.errors import ConfigError
from erpsync.logs import get_logger
from erpsync.models import SyncConfig
from erpsync.shopify import documents
from erpsync.shopify.bulk import LineOutcome, run_file
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter
from erpsync.shopify.client import ShopifyClient

log = get_logger("erpsync.publications")

# Up to this many products are (un)published one mutation each (10 points apiece, a quarter of the smallest
# bucket); more go in one bulk operation, whose staged upload, start and polling cost more than a few calls.
DIRECT_LIMIT = 50
MAX_PAGES = 20  # 50 publications a page: far more sales channels than any shop has


@dataclass
class Channels:
    """The publications a run publishes on, and the products it brings back from archive or draft."""

    run_id: int
    config_id: str
    ids: list[str]
    revived: list[str] = field(default_factory=list)


async def shop_publications(client: ShopifyClient) -> dict[str, str]:
    """Every publication of the shop, by name (`catalog.title` and the deprecated `name`) -> id."""
    found: dict[str, str] = {}
    after: str | None = None
    for _ in range(MAX_PAGES):
        data = await client.execute(documents.PUBLICATIONS, {"first": 50, "after": after})
        page = data["publications"]
        for node in page["nodes"]:
            for title in ((node.get("catalog") or {}).get("title"), node.get("name")):
                if title:
                    found.setdefault(str(title), str(node["id"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return found


async def prepare_channels(
    conn: asyncpg.Connection[Any], client: ShopifyClient, config: SyncConfig, run_id: int
) -> Channels | None:
    """Resolve the configured names before anything is written: an unknown one fails the run up front."""
    names, config_id = config.publications, config.id
    if not names:
        return None
    revived = await channel_store.revived_products(conn, run_id, config_id)
    if not revived and not await channel_store.has_channel_work(conn, run_id):
        return None  # nothing to publish or unpublish: no request
    known = await shop_publications(client)
    missing = [name for name in names if name not in known]
    if missing:
        have = ", ".join(repr(name) for name in sorted(known)) or "none"
        wanted = ", ".join(repr(name) for name in missing)
        raise ConfigError(f"sales channel {wanted} not found in the shop (it has: {have})")
    return Channels(run_id, config_id, ids=[known[name] for name in names], revived=revived)


async def publish_channels(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    channels: Channels | None,
    directory: Path,
) -> dict[str, int]:
    """Publish the run's new products and unpublish its removed ones; the counts for the run result."""
    if channels is None:
        return {}
    run_id, config_id = channels.run_id, channels.config_id
    counts: dict[str, int] = {}
    publish = await channel_store.products_to_publish(conn, run_id, config_id, channels.revived)
    unpublish = await channel_store.products_to_unpublish(conn, run_id)
    for document, rows, name in (
        (documents.PUBLISHABLE_PUBLISH_BULK, publish, "published"),
        (documents.PUBLISHABLE_UNPUBLISH_BULK, unpublish, "unpublished"),
    ):
        if not rows:
            continue
        failed = await _run(
            conn, client, document, rows, channels, run_id=run_id, config_id=config_id, directory=directory
        )
        counts[name] = len(rows) - failed
        counts[f"{name}_failed"] = failed
    return counts


async def _run(
    conn: asyncpg.Connection[Any],
    client: ShopifyClient,
    document: documents.Document,
    rows: list[asyncpg.Record],
    channels: Channels,
    *,
    run_id: int,
    config_id: str,
    directory: Path,
) -> int:
    """One bulk operation over `rows` (or a call each, for a few); each failure is logged. Returns failures."""
    targets = [{"publicationId": publication_id} for publication_id in channels.ids]
    if len(rows) <= DIRECT_LIMIT:
        messages = [await _call(client, document, row, targets) for row in rows]
        failed = [
            (row["product_key"], message) for row, message in zip(rows, messages, strict=True) if message
        ]
        await _log_failures(conn, document, failed, run_id=run_id, config_id=config_id)
        return len(failed)
    with BulkFileWriter(directory, f"run-{run_id}-{document.name}") as writer:
        for row in rows:
            writer.add(row["product_key"], {"id": row["shopify_product_id"], "input": targets})
    failures: list[LineOutcome] = []

    async def started(file: BulkFile, operation_id: str) -> None:
        log.info("sales channels", operation=document.name, operation_id=operation_id, products=len(rows))

    async def outcomes(file: BulkFile, lines: list[LineOutcome]) -> None:
        failures.extend(line for line in lines if line.status != "ok")

    for file in writer.files:
        await run_file(client, document, file, on_started=started, on_outcomes=outcomes)
    failed = [(line.key, line.message or line.status) for line in failures]
    await _log_failures(conn, document, failed, run_id=run_id, config_id=config_id)
    return len(failed)


async def _call(
    client: ShopifyClient, document: documents.Document, row: asyncpg.Record, targets: list[dict[str, str]]
) -> str | None:
    """One product (un)published directly; the userErrors' text, or None. Safe to repeat: retried."""
    variables = {"id": row["shopify_product_id"], "input": targets}
    data = await client.execute(document, variables, retry_mutation=True)
    errors = (data.get(document.name) or {}).get("userErrors") or []
    return "; ".join(str(error.get("message")) for error in errors) or None


async def _log_failures(
    conn: asyncpg.Connection[Any],
    document: documents.Document,
    failed: list[tuple[str, str]],
    *,
    run_id: int,
    config_id: str,
) -> None:
    if failed:
        text = "product {}: {} failed: {}"
        rows = [
            (config_id, run_id, "error", None, text.format(key, document.name, why), None)
            for key, why in failed
        ]
        await add_logs(conn, rows)
