"""Prometheus metrics: what an operator graphs and alerts on, exposed at `GET /metrics`.

Counters are bumped where things happen (a run ends, Shopify is waited for); gauges that describe
state (queue depth, last success per config) are read fresh at scrape time.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
# The process's CPU, memory, open files and start time (process_*), and the Python it runs (python_info).
ProcessCollector(registry=REGISTRY)
REGISTRY.register(PLATFORM_COLLECTOR)

RUNS = Counter(
    "erpsync_runs", "Sync runs by config and outcome.", ["config_id", "outcome"], registry=REGISTRY
)
PRODUCTS = Counter(
    "erpsync_products",
    "Products by config and what a run did to them.",
    ["config_id", "action"],
    registry=REGISTRY,
)
RUN_SECONDS = Histogram(
    "erpsync_run_stage_seconds",
    "Seconds a run spent in each stage (fetch, plan, publish, ...) and in all (`total`).",
    ["stage"],
    buckets=(0.5, 2, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
RUNS_ACTIVE = Gauge(
    "erpsync_runs_active", "Runs queued or running now, by status.", ["status"], registry=REGISTRY
)
ROWS_REJECTED = Counter("erpsync_rows_rejected", "Feed rows rejected by the mapping.", registry=REGISTRY)
SHOPIFY_COST = Counter(
    "erpsync_shopify_cost", "Shopify query cost points spent, by shop.", ["shop"], registry=REGISTRY
)
THROTTLE_WAITS = Counter(
    "erpsync_shopify_throttle_waits",
    "Times a request waited for Shopify's bucket, by shop.",
    ["shop"],
    registry=REGISTRY,
)
THROTTLED = Counter(
    "erpsync_shopify_throttled", "Requests Shopify answered THROTTLED, by shop.", ["shop"], registry=REGISTRY
)
BULK_SECONDS = Histogram(
    "erpsync_bulk_operation_seconds",
    "Bulk operation durations, from start to a terminal status.",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
FEED_BYTES = Counter("erpsync_feed_bytes", "Feed bytes fetched.", registry=REGISTRY)
QUEUE_DEPTH = Gauge("erpsync_queue_depth", "Sync jobs waiting in the queue.", registry=REGISTRY)
LAST_SUCCESS = Gauge(
    "erpsync_last_success_timestamp_seconds",
    "When each config last synced successfully (a run succeeded, or found the feed unchanged).",
    ["config_id"],
    registry=REGISTRY,
)

DRIFT_FOUND = Counter(
    "erpsync_drift_found",
    "What runs found in the shop that erpsync did not write (fields, deleted products, variants), by config, "
    "shop and what was done: written_back, kept, reported.",
    ["config_id", "shop", "action"],
    registry=REGISTRY,
)
DRIFT_OPEN = Gauge(
    "erpsync_drift_open",
    "Drift findings still open (GET /configs/{id}/drift), by config and shop.",
    ["config_id", "shop"],
    registry=REGISTRY,
)


class RunResult(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def counts(self) -> dict[str, Any]: ...


def observe_run(config_id: str, result: RunResult) -> None:
    """Count a finished run and what it did."""
    RUNS.labels(config_id=config_id, outcome=result.status).inc()
    counts = result.counts
    for action in ("created", "updated", "deleted", "unchanged", "failed"):
        value = counts.get(action)
        if isinstance(value, int) and value:
            PRODUCTS.labels(config_id=config_id, action=action).inc(value)
    seconds = counts.get("seconds")
    if isinstance(seconds, dict):
        for stage, spent in seconds.items():
            if isinstance(spent, int | float):
                RUN_SECONDS.labels(stage=stage).observe(spent)
        RUN_SECONDS.labels(stage="total").observe(
            sum(v for v in seconds.values() if isinstance(v, int | float))
        )
    ROWS_REJECTED.inc(int(counts.get("rows_rejected") or 0))
    FEED_BYTES.inc(int(counts.get("feed_bytes") or counts.get("feed_bytes_transferred") or 0))
    # Bulk result lines: products sent again after a transient line error, and lines that failed so or
    # were answered with another product (`LineCounts`).
    for action in ("retried", "failed_transient", "failed_mismatch"):
        value = counts.get(action)
        if isinstance(value, int) and value:
            PRODUCTS.labels(config_id=config_id, action=action).inc(value)
    for found in (counts.get("drift"), counts.get("reconcile")):
        if isinstance(found, dict):
            for action in ("written_back", "kept", "reported"):
                if isinstance(value := found.get(action), int) and value:
                    labels = {"config_id": config_id, "shop": str(found.get("shop") or ""), "action": action}
                    DRIFT_FOUND.labels(**labels).inc(value)


def render() -> bytes:
    return generate_latest(REGISTRY)
