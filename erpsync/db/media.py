"""The media ids Shopify gave each product's images, kept by source URL (`product_media`, raw SQL).

Learnt from productSet's result (`product.media`), read back when the product is written again so that
every image already in the shop is sent by its media id. A product whose files were refused (a media id
the shop no longer holds, say a merchant deleted the image) forgets its ids and uploads afresh next time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from erpsync.db.pool import Executor

SELECT_RUN_MEDIA = """
SELECT pm.product_key, pm.source_url, pm.media_id
FROM product_media pm JOIN run_products rp ON rp.product_key = pm.product_key AND rp.run_id = $1
WHERE pm.config_id = $2
"""
SELECT_SENT_FILES = """
SELECT product_key, input -> 'files' AS files, input -> 'variants' AS variants
FROM run_products WHERE run_id = $1 AND product_key = ANY($2::text[])
"""
FORGET_MEDIA = "DELETE FROM product_media WHERE config_id = $1 AND product_key = ANY($2::text[])"
INSERT_MEDIA = """
INSERT INTO product_media (config_id, product_key, source_url, media_id)
SELECT $1, t.product_key, t.source_url, t.media_id
FROM unnest($2::text[], $3::text[], $4::text[]) AS t(product_key, source_url, media_id)
JOIN product_states ps ON ps.config_id = $1 AND ps.product_key = t.product_key
ON CONFLICT (config_id, product_key, source_url) DO UPDATE SET media_id = EXCLUDED.media_id
"""


async def run_media(conn: Executor, run_id: int, config_id: str) -> dict[str, dict[str, str]]:
    """Every known media id of the run's products: product key -> source URL -> media id."""
    found: dict[str, dict[str, str]] = {}
    for row in await conn.fetch(SELECT_RUN_MEDIA, run_id, config_id):
        found.setdefault(row["product_key"], {})[row["source_url"]] = row["media_id"]
    return found


def sent_urls(files: list[dict[str, Any]] | None, variants: list[dict[str, Any]] | None) -> list[str]:
    """The source URLs a productSet input sent, in the order the product's media takes them."""
    urls = [str(entry["originalSource"]) for entry in files or [] if entry.get("originalSource")]
    for variant in variants or []:
        source = (variant.get("file") or {}).get("originalSource")
        if source and source not in urls:
            urls.append(str(source))
    return urls


def media_of_result(urls: list[str], nodes: Iterable[dict[str, Any]], *, whole_list: bool) -> dict[str, str]:
    """Source URL -> media id, from the result's `product.media` nodes.

    A node whose `originalSource.url` is one the input sent is that image. Shopify may answer with the URL
    of its own copy instead, so when `files` was sent (and so is now the product's whole media list, in the
    order sent) a node is otherwise the image at its position.
    """
    sent = set(urls)
    found: dict[str, str] = {}
    for index, node in enumerate(nodes):
        url = ((node.get("originalSource") or {}).get("url")) or None
        if url not in sent:
            url = urls[index] if whole_list and index < len(urls) else None
        if url is not None and node.get("id"):
            found.setdefault(url, str(node["id"]))
    return found


async def record_media(conn: Executor, *, run_id: int, config_id: str, results: dict[str, Any]) -> None:
    """Keep the media of each written product (key -> productSet payload), forget the refused ones'."""
    if not results:
        return
    rows = await conn.fetch(SELECT_SENT_FILES, run_id, list(results))
    keys: list[str] = []
    urls: list[str] = []
    ids: list[str] = []
    replaced: list[str] = []
    for row in rows:
        payload = results[row["product_key"]]
        sent = sent_urls(row["files"], row["variants"])
        if payload is None:  # refused files: the ids erpsync holds are no good
            replaced.append(row["product_key"])
            continue
        if not sent:
            continue
        nodes = ((payload.get("product") or {}).get("media") or {}).get("nodes") or []
        found = media_of_result(sent, nodes, whole_list=row["files"] is not None)
        if row["files"] is not None:
            replaced.append(row["product_key"])
        for url, media_id in found.items():
            keys.append(row["product_key"])
            urls.append(url)
            ids.append(media_id)
    if replaced:
        await conn.execute(FORGET_MEDIA, config_id, replaced)
    if keys:
        await conn.execute(INSERT_MEDIA, config_id, keys, urls, ids)
