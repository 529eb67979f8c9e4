"""The run's log lines about ownership and the plan: what a merchant reads to see why a product was
left alone, held back or rewritten (`sync_logs`, `GET /configs/{id}/logs`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from erpsync.db.logs import add_logs
from erpsync.db.owners import Conflict
from erpsync.logs import get_logger
from erpsync.outcome import describe_error
from erpsync.plan import Plan

if TYPE_CHECKING:
    from erpsync.mapping.drafts import MapOutcome

log = get_logger("erpsync.journal")
LINE_LIMIT = 1000  # per kind and run: the counts say how many there were


async def context_changed(
    conn: asyncpg.Connection[Any],
    config_id: str,
    run_id: int,
    previous: dict[str, Any] | None,
    context: dict[str, Any],
) -> None:
    """Say what changed in what decides every write (the first run only records it)."""
    if previous is None or previous == context:
        return
    changed = sorted(key for key in context if previous.get(key) != context[key])
    log.warning("what the products are written with changed: every product is written once", changed=changed)
    lines: list[tuple[Any, ...]] = [
        (
            config_id,
            run_id,
            "warning",
            None,
            f"{', '.join(changed)} changed since the last run: every product is written once",
            {"before": previous, "after": context},
        )
    ]
    if "location_id" in changed:
        lines.append(
            (
                config_id,
                run_id,
                "warning",
                None,
                f"the variants this config wrote before are stocked at location {context['location_id']} as they "
                "are written (inventoryActivate with the feed's quantity)",
                None,
            )
        )
    await add_logs(conn, lines)


async def conflicts(
    conn: asyncpg.Connection[Any], config_id: str, run_id: int, found: Sequence[Conflict]
) -> None:
    log.warning("SKUs owned by another config are not written", skus=len(found))
    await add_logs(
        conn,
        [
            (
                config_id,
                run_id,
                "error",
                conflict.sku,
                f"SKU {conflict.sku} of product {conflict.product_key} is owned by config "
                f"{conflict.owner!r} in this shop; not written by this config",
                {"product_key": conflict.product_key, "owner": conflict.owner},
            )
            for conflict in found[:LINE_LIMIT]
        ],
    )


async def planned(conn: asyncpg.Connection[Any], config_id: str, run_id: int, plan: Plan) -> None:
    """The guard's reason, and every variant the plan removes or holds back, named by SKU."""
    lines: list[tuple[Any, ...]] = []
    if plan.guard.reason:
        log.warning("deletes held back", reason=plan.guard.reason)
        lines.append((config_id, run_id, "warning", None, f"deletes held back: {plan.guard.reason}", None))
    verb = "not removed (held back)" if plan.held else "removed"
    lines += [
        (
            config_id,
            run_id,
            "warning",
            sku,
            f"variant {sku} of product {key} is no longer in the feed: {verb}",
            {"product_key": key},
        )
        for key, skus in plan.removed_variant_skus.items()
        for sku in skus
    ][:LINE_LIMIT]
    await add_logs(conn, lines)


async def mapped(
    conn: asyncpg.Connection[Any],
    config_id: str,
    run_id: int,
    outcome: MapOutcome,
    counts: dict[str, Any],
    *,
    feed: str,
) -> None:
    """Each rejected row where it is in the file, each rejected product by key and SKUs, each warning."""
    lines: list[tuple[Any, ...]] = [
        (
            config_id,
            run_id,
            "warning",
            error.sku,
            describe_error(error, feed),
            {
                "row": error.row,
                "line": error.line,
                "field": error.field,
                "feed": feed,
                "product_key": error.key,
            },
        )
        for error in outcome.errors[:LINE_LIMIT]
    ]
    for product in counts.get("rejected_products", []):
        skus = f" (SKU {', '.join(product['skus'])})" if product["skus"] else ""
        why = f": {product['error']}" if product["error"] else ""
        lines.append(
            (
                config_id,
                run_id,
                "warning",
                product["skus"][0] if product["skus"] else None,
                f"product {product['key']!r}{skus} rejected, not written{why}",
                {"product_key": product["key"], "skus": product["skus"]},
            )
        )
    if more := counts.get("rejected_products_more"):
        lines.append((config_id, run_id, "warning", None, f"... and {more:,} more rejected products", None))
    lines += [(config_id, run_id, "warning", None, line, None) for line in counts.get("warnings", [])]
    if outcome.rejected_rows:
        log.warning("rows rejected", rows=outcome.rejected_rows, products=len(outcome.rejected_keys))
    await add_logs(conn, lines)
