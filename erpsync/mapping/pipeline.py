"""The map stage from end to end: a parser's batches in, product drafts out.

Three steps, each only where the config asks for it: computed values (`rules`), regrouping the
records into products as the feed's shape says (`grouping`), then the mapper, which reads rows of one
product next to each other and is the same fast code for every shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from erpsync.feeds.records import RecordBatch
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.mapper import FeedMapper
from erpsync.models import SyncConfig


class FeedPipeline:
    """Push record batches; get the products they completed. `finish` at the feed's end."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        feed: str = "feed",
        currency: str | None = None,
        work_dir: Path | None = None,
        max_errors: int = 10_000,
    ) -> None:
        self._mapper = FeedMapper(config, feed=feed, max_errors=max_errors)
        self._work_dir = work_dir
        self._currency = currency

    def push(self, batch: RecordBatch) -> list[ProductDraft]:
        """Map one batch; the products it completed."""
        return self._mapper.map_batch(batch)

    def finish(self) -> list[ProductDraft]:
        """The feed ended: the products still open."""
        return self._mapper.finish()

    @property
    def rows(self) -> int:
        """Records read so far, for progress."""
        return self._mapper.rows

    def outcome(self) -> MapOutcome:
        """Counts and errors so far (complete after `finish`)."""
        return self._mapper.outcome()


def map_feed(
    config: SyncConfig,
    batches: Iterable[RecordBatch],
    *,
    currency: str | None = None,
    work_dir: Path | None = None,
) -> tuple[list[ProductDraft], MapOutcome]:
    """Map a whole feed and drop the products rejected late; for tests, previews and benchmarks."""
    pipeline = FeedPipeline(config, currency=currency, work_dir=work_dir)
    products: list[ProductDraft] = []
    for batch in batches:
        products.extend(pipeline.push(batch))
    products.extend(pipeline.finish())
    outcome = pipeline.outcome()
    dropped = outcome.rejected_keys
    return [product for product in products if product.key not in dropped], outcome


__all__ = ["FeedPipeline", "map_feed"]
