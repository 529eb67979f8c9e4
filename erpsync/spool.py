"""Where a run puts each mapped product while the feed streams in: its hash to PostgreSQL, its input to disk.

Each product's productSet input goes to a local spool file (one line per product, in feed order), loaded
into PostgreSQL after planning only for the products that will be written. A product whose hash this config
last wrote is unchanged (the hash covers its key): its input is never built, and outside a dry run it gets
no `run_products` row either; its hash is struck off `known`. What is left of `known` at the end — the
`unmatched` hashes, none in a no-op run — is all the delete check needs: a no-op run sends PostgreSQL
no row and no hash.
"""

from __future__ import annotations

from operator import attrgetter
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from erpsync.db import products as store
from erpsync.mapping.drafts import ProductDraft
from erpsync.shopify.inputs import product_set_input

COPY_BATCH = 2000
_CONTENT_HASH = attrgetter("content_hash")


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")

    @property
    def unmatched(self) -> list[str]:
        """Hashes this config last wrote that no unchanged product of the feed matched (so far)."""
        return sorted(digest.hex() for digest in self.known)

    async def keep(self, products: list[ProductDraft]) -> None:
        digests = list(map(bytes.fromhex, map(_CONTENT_HASH, products)))
        if not self.dry_run and self.known.issuperset(digests):
            # A batch with nothing new, as in most batches of most runs: no per-product work at all.
            self.known.difference_update(digests)
            self.ordinal += len(digests)
            self.unchanged_unlisted += len(digests)
            self._file.write(b"null\n" * len(digests))
        else:
            self._keep_each(products, digests)
        if len(self._rows) >= COPY_BATCH:
            await self._flush_rows()

    def _keep_each(self, products: list[ProductDraft], digests: list[bytes]) -> None:
        write, rows = self._file.write, self._rows
        for product, digest in zip(products, digests, strict=True):
            self.ordinal += 1
            action: str | None = None
            if digest in self.known:
                self.known.discard(digest)
                write(b"null\n")
                if not self.dry_run:  # a dry run lists unchanged products, so it keeps their rows
                    self.unchanged_unlisted += 1
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
        """After `close()`: write the rows still buffered."""
        await self._flush_rows()

    async def _flush_rows(self) -> None:
        if self._rows:
            await store.copy_run_products(self.conn, self._rows)
            self._rows.clear()
