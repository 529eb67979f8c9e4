"""Where a run puts each mapped product while the feed streams in: its hash to PostgreSQL, its input to disk.

Each product's productSet input goes to a local spool file (one line per product, in feed order), loaded
into PostgreSQL after planning only for the products that will be written. A product whose hash this config
last wrote is unchanged (the hash covers its key): its input is never built, and outside a dry run it gets
no `run_products` row either, only its hash in `run_seen` — a no-op run compares and writes nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import orjson

from erpsync.db import products as store
from erpsync.drafts import ProductDraft
from erpsync.shopify.inputs import product_set_input

COPY_BATCH = 2000
SEEN_BATCH = 20_000


class RunSpool:
    """The products of one run as they are mapped; `finish()` writes what is still buffered."""

    def __init__(
        self,
        conn: asyncpg.Connection[Any],
        *,
        run_id: int,
        path: Path,
        known: set[bytes],
        mapped: frozenset[str],
        location_id: str | None,
        dry_run: bool,
    ) -> None:
        self.conn = conn
        self.run_id = run_id
        self.known = known
        self.mapped = mapped
        self.location_id = location_id
        self.dry_run = dry_run
        self.ordinal = 0
        self.unchanged_unlisted = 0  # unchanged products that got no `run_products` row
        self._rows: list[tuple[Any, ...]] = []
        self._seen: list[tuple[str]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")

    async def keep(self, products: list[ProductDraft]) -> None:
        hashes = [product.content_hash for product in products]
        if not self.dry_run and all(bytes.fromhex(digest) in self.known for digest in hashes):
            # A batch with nothing new, as in most batches of most runs: no per-product work at all.
            self.ordinal += len(hashes)
            self._file.write(b"null\n" * len(hashes))
            self._seen.extend(zip(hashes, strict=True))
        else:
            self._keep_each(products)
        if len(self._seen) >= SEEN_BATCH:
            await self._flush_seen()
        if len(self._rows) >= COPY_BATCH:
            await self._flush_rows()

    def _keep_each(self, products: list[ProductDraft]) -> None:
        write, rows = self._file.write, self._rows
        for product in products:
            self.ordinal += 1
            action: str | None = None
            if bytes.fromhex(product.content_hash) in self.known:
                write(b"null\n")
                if not self.dry_run:  # a dry run lists unchanged products, so it keeps their rows
                    self._seen.append((product.content_hash,))
                    continue
                action = "unchanged"
            else:
                input_ = product_set_input(product, mapped=self.mapped, location_id=self.location_id)
                write(orjson.dumps(input_) + b"\n")
            skus = [variant.sku for variant in product.variants]
            rows.append((self.run_id, product.key, self.ordinal, product.content_hash, skus, None, action))

    def close(self) -> None:
        self._file.close()

    async def finish(self) -> None:
        """After `close()`: write the rows and hashes still buffered."""
        await self._flush_rows()
        await self._flush_seen()

    async def _flush_rows(self) -> None:
        if self._rows:
            await store.copy_run_products(self.conn, self._rows)
            self._rows.clear()

    async def _flush_seen(self) -> None:
        if self._seen:
            await store.copy_seen(self.conn, self._seen)
            self.unchanged_unlisted += len(self._seen)
            self._seen.clear()
