"""The map stage from end to end: a parser's batches in, product drafts out.

Three steps, each only where the config asks for it: regrouping the records into adjacent products
as the feed's shape says (grouping.py), computed values (rules.py), then the mapper, which reads rows
of one product next to each other and is the same fast code for every shape. A plain config runs the
mapper alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from erpsync.feeds.records import RecordBatch
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.grouping import Regrouper
from erpsync.mapping.mapper import FeedMapper
from erpsync.mapping.rules import RuleStage
from erpsync.models import SyncConfig


class FeedPipeline:
    """Push record batches; get the products they completed. `finish` at the feed's end, `close`
    always (a context manager does it): a regrouped feed's sorted runs live on the work disk."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        feed: str = "feed",
        currency: str | None = None,
        work_dir: Path | None = None,
        max_errors: int = 10_000,
    ) -> None:
        self._regrouper = (
            Regrouper(config, feed=feed, work_dir=work_dir) if Regrouper.needed(config) else None
        )
        if self._regrouper is not None:
            config = self._regrouper.config
        self._rules = RuleStage(config, feed=feed) if RuleStage.needed(config) else None
        if self._rules is not None:
            config = self._rules.config
        self._mapper = FeedMapper(config, feed=feed, max_errors=max_errors, currency=currency)
        # The feed's records: a regrouped feed maps another number of rows (no parent rows, one row
        # per nested variant), but the merchant counts the feed's.
        self._records = 0

    def push(self, batch: RecordBatch) -> list[ProductDraft]:
        """Map one batch; the products it completed."""
        self._records += len(batch.records)
        if self._regrouper is None:
            return self._map(batch)
        return self._map_all(self._regrouper.push(batch))

    def finish(self) -> list[ProductDraft]:
        """The feed ended: the products still open (for a regrouped feed, most of them; use
        `drain` to take them a batch at a time)."""
        products: list[ProductDraft] = []
        for ready in self.drain():
            products.extend(ready)
        return products

    def drain(self) -> Iterator[list[ProductDraft]]:
        """The feed ended: the rest of the products, a batch at a time (memory stays flat)."""
        if self._regrouper is not None:
            for batch in self._regrouper.finish():
                yield self._map(batch)
        yield self._mapper.finish()

    def close(self) -> None:
        """Remove what the regrouping left on disk."""
        if self._regrouper is not None:
            self._regrouper.close()

    def __enter__(self) -> FeedPipeline:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @property
    def rows(self) -> int:
        """Records read so far, for progress."""
        return self._records

    def outcome(self) -> MapOutcome:
        """Counts and errors so far (complete after `finish`)."""
        outcome = self._mapper.outcome()
        if self._rules is not None and outcome.rows:
            # The mapper sees a computed cell, not the feed's fields it was computed from.
            computed = set(self._rules.computed)
            given = [path for path in outcome.missing_paths if path not in computed]
            missing = tuple(dict.fromkeys([*given, *self._rules.missing_paths()]))
            outcome = dataclasses.replace(outcome, missing_paths=missing)
        if self._regrouper is None:
            return outcome
        return dataclasses.replace(outcome, rows=self._records)

    def _map(self, batch: RecordBatch) -> list[ProductDraft]:
        if self._rules is not None:
            batch = self._rules.push(batch)
        return self._mapper.map_batch(batch)

    def _map_all(self, batches: Iterable[RecordBatch]) -> list[ProductDraft]:
        products: list[ProductDraft] = []
        for batch in batches:
            products.extend(self._map(batch))
        return products


def map_feed(
    config: SyncConfig,
    batches: Iterable[RecordBatch],
    *,
    currency: str | None = None,
    work_dir: Path | None = None,
    feed: str = "feed",
) -> tuple[list[ProductDraft], MapOutcome]:
    """Map a whole feed and drop the products rejected late; for tests, previews and benchmarks."""
    products: list[ProductDraft] = []
    with FeedPipeline(config, currency=currency, work_dir=work_dir, feed=feed) as pipeline:
        for batch in batches:
            products.extend(pipeline.push(batch))
        products.extend(pipeline.finish())
        outcome = pipeline.outcome()
    dropped = outcome.rejected_keys
    return [product for product in products if product.key not in dropped], outcome


__all__ = ["FeedPipeline", "map_feed"]
