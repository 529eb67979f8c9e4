"""Images as Shopify keeps them: each one uploaded once, then sent by the media id Shopify gave it.

productSet's `files` replaces a product's media: an entry with only an `originalSource` is a new upload
(Shopify downloads and stores it again, and the old media is removed), an entry with an `id` keeps that
media as it is. So a re-sync that changes a price must send every unchanged image by id. The ids come
from the result lines (`product.media`) and are kept per product and source URL (`db/media.py`).
https://shopify.dev/docs/api/admin-graphql/latest/mutations/productSet
"""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync.db.media import record_media
from erpsync.shopify.bulk import LineOutcome


def refused_files(outcome: LineOutcome) -> bool:
    """A userError on `files` or a variant's `file`: the media ids sent are not (or no longer) the shop's."""
    return any(step in ("files", "file") for error in outcome.errors for step in (error.get("field") or []))


async def record_media_outcomes(
    pool: asyncpg.Pool[Any], *, run_id: int, config_id: str, document: str, outcomes: list[LineOutcome]
) -> None:
    """Keep the media ids of the products a productSet file wrote; forget those of refused files."""
    if document != "productSet":
        return
    results: dict[str, Any] = {}
    for outcome in outcomes:
        if outcome.status == "ok" and (outcome.payload or {}).get("product"):
            results[outcome.key] = outcome.payload
        elif outcome.status == "user_errors" and refused_files(outcome):
            results[outcome.key] = None
    if results:
        async with pool.acquire() as conn:
            await record_media(conn, run_id=run_id, config_id=config_id, results=results)
