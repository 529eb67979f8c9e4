"""What a run's mapped feed means for its outcome: the status it may end with, why it must fail, and the
rejected products named one by one — so a merchant never reads `succeeded` over rows that were dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from erpsync.constants import RunStatus
from erpsync.models import SyncConfig

if TYPE_CHECKING:  # the mapper is imported by the runs that parse a feed, not by every run
    from erpsync.mapping.drafts import MapOutcome, RowError

# Rejected products named in a run's result; the count of the rest is given beside them.
REJECTED_LIMIT = 100


def describe_error(error: RowError, feed: str) -> str:
    """`products.csv line 15 (row 14), SKU 'A-1', variant.price: …`: where to look, and what is wrong.

    The row is the merchant's count (the spreadsheet row of a CSV, the record's position otherwise); the
    line, where the format has lines, differs from it once a cell spans lines."""
    feed = feed.rstrip("/").rsplit("/", 1)[-1] or feed  # the file's name, not its whole path or URL
    place = (
        f"{feed} line {error.line} (row {error.row})" if error.line is not None else f"{feed} row {error.row}"
    )
    sku = f", SKU {error.sku!r}" if error.sku else ""
    return f"{place}{sku}, {error.field}: {error.message}"


def no_product_reason(outcome: MapOutcome, feed: str) -> str | None:
    """Why a run must stop before touching the shop: every row rejected, or no product at all; else None."""
    if outcome.products:
        return None
    if outcome.rows and outcome.rejected_rows >= outcome.rows:
        first = f" (first: {describe_error(outcome.errors[0], feed)})" if outcome.errors else ""
        return f"every one of the {outcome.rows:,} rows was rejected{first}; nothing was written or deleted"
    rejected = f", {outcome.rejected_rows:,} rejected" if outcome.rejected_rows else ""
    return f"the feed gave no product ({outcome.rows:,} rows{rejected}); nothing was written or deleted"


def rejected_products(
    outcome: MapOutcome, feed: str, *, limit: int = REJECTED_LIMIT
) -> tuple[list[dict[str, Any]], int]:
    """Each rejected product (key, SKUs, first error), in feed order, at most `limit`; and how many more."""
    named: dict[str, dict[str, Any]] = {}
    for error in outcome.errors:
        key = error.key if error.key is not None else error.sku
        if key is None:
            continue
        entry = named.setdefault(key, {"key": key, "skus": [], "error": describe_error(error, feed)})
        if error.sku and error.sku not in entry["skus"]:
            entry["skus"].append(error.sku)
    # Rejected without an error kept (past the kept errors): named by key only.
    for key in sorted(outcome.rejected_keys - named.keys()):
        named[key] = {"key": key, "skus": [], "error": None}
    entries = list(named.values())
    return entries[:limit], max(0, len(entries) - limit)


def missing_path_warnings(outcome: MapOutcome, config: SyncConfig) -> list[str]:
    """One line per mapped path no record had, naming the field it was meant to fill."""
    lines = []
    for path in outcome.missing_paths:
        fields = sorted(field for field, source in config.mapping.items() if source == path)
        target = f" (mapped to {', '.join(fields)})" if fields else ""
        lines.append(f"the mapped path {path!r}{target} is in no record of the feed")
    return lines


def map_counts(outcome: MapOutcome, config: SyncConfig, feed: str) -> dict[str, Any]:
    """The map stage's part of a run's counts: rows, products, the rejected products and the warnings."""
    counts: dict[str, Any] = {
        "rows_read": outcome.rows,
        "rows_rejected": outcome.rejected_rows,
        "products": outcome.products,
        "variants": outcome.variants,
    }
    named, more = rejected_products(outcome, feed)
    if named:
        counts["rejected_products"] = named
        counts["rejected_products_more"] = more
    if warnings := missing_path_warnings(outcome, config):
        counts["warnings"] = warnings
    return counts


def run_status(*, failed: int, rows_rejected: int, guard_reason: str | None) -> RunStatus:
    """Held-back deletes need a person; anything not written as the feed says (failed, conflicting or
    rejected) makes the run partial; only a run that wrote all of its feed succeeded."""
    if guard_reason:
        return RunStatus.NEEDS_ATTENTION
    return RunStatus.PARTIAL if failed or rows_rejected else RunStatus.SUCCEEDED
