"""The SQL of drift: the check's window, the owned products it compares, what each finding changes in the
last-written state, the findings themselves (`drift_findings`) and their rows in the journal.

A drifted field written back (`overwrite`) leaves the product's last-written state holding the shop's
value and its hash one no feed can match, so the plan writes the product again with the lightest
mutation for what differs. A kept field (`keep`) leaves the state holding the shop's value, hash
untouched: nothing is written until the feed changes the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from erpsync.db.corrections import FORGET_PRODUCT
from erpsync.db.pool import Executor

# The window: from the moment the config's last checked run asked the shop what changed (an edit made
# while that run wrote is after it), else from the end of its last finished run (one that owned nothing
# when it began, as a first sync, or from before drift checks existed).
SELECT_WINDOW_START = """
SELECT coalesce(
    (SELECT max(drift_checked_at) FROM sync_runs
     WHERE config_id = $1 AND id <> $2 AND NOT dry_run AND drift_checked_at IS NOT NULL),
    (SELECT max(finished_at) FROM sync_runs
     WHERE config_id = $1 AND id <> $2 AND NOT dry_run AND started_at IS NOT NULL))
"""
OWNS_ANY = "SELECT EXISTS (SELECT 1 FROM product_states WHERE config_id = $1 AND state = 'active')"
COUNT_OWNED = "SELECT count(*) FROM product_states WHERE config_id = $1 AND state = 'active'"
SET_CHECKED = "UPDATE sync_runs SET drift_checked_at = $2 WHERE id = $1"
SELECT_OWNED = """
SELECT product_key, shopify_product_id, written, content_hash, shop_updated_at,
       (SELECT coalesce(array_agg(p.sku ORDER BY p.sku), '{}') FROM products p
        WHERE p.config_id = ps.config_id AND p.product_key = ps.product_key) AS skus
FROM product_states ps
WHERE ps.config_id = $1 AND ps.state = 'active' AND ps.shopify_product_id = ANY($2::text[])
"""
MAX_VARIANTS = """
SELECT coalesce(max(n), 1) FROM (SELECT count(*) AS n FROM products WHERE config_id = $1 GROUP BY product_key) t
"""
# `overwrite`: the shop's values in the state, a hash no feed gives (32 hex digits are a real one).
SET_TO_WRITE = """
UPDATE product_states ps SET written = t.written::jsonb,
    content_hash = CASE WHEN ps.content_hash IS NULL THEN NULL ELSE 'drift' || ps.content_hash END
FROM unnest($2::text[], $3::text[]) AS t(product_key, written)
WHERE ps.config_id = $1 AND ps.product_key = t.product_key
"""
SET_WRITTEN = """
UPDATE product_states ps SET written = t.written::jsonb
FROM unnest($2::text[], $3::text[]) AS t(product_key, written)
WHERE ps.config_id = $1 AND ps.product_key = t.product_key
"""
UPSERT_FINDING = """
INSERT INTO drift_findings (config_id, shop, kind, product_key, shopify_product_id, field, path, ours, theirs,
                            policy, action, first_seen_run_id, seen_run_id)
SELECT $1, $2, t.kind, t.product_key, t.product_id, t.field, t.path::jsonb, t.ours::jsonb, t.theirs::jsonb,
       $3, t.action, $4, $4
FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
     AS t(kind, product_key, product_id, field, path, ours, theirs, action)
ON CONFLICT (config_id, coalesce(product_key, ''), field) WHERE state = 'open' DO UPDATE
SET theirs = EXCLUDED.theirs, seen_run_id = EXCLUDED.seen_run_id, seen_at = now(), policy = EXCLUDED.policy,
    shopify_product_id = EXCLUDED.shopify_product_id,
    ours = CASE WHEN drift_findings.action = 'kept' THEN drift_findings.ours ELSE EXCLUDED.ours END,
    action = CASE WHEN drift_findings.action = 'kept' AND EXCLUDED.action = 'kept' THEN 'kept'
                  ELSE EXCLUDED.action END
"""
SELECT_OPEN_FOR = """
SELECT id, product_key, kind, field, path, ours, theirs, action FROM drift_findings
WHERE config_id = $1 AND state = 'open' AND product_key = ANY($2::text[])
"""
SELECT_OPEN_OF_KINDS = """
SELECT id, product_key, field FROM drift_findings WHERE config_id = $1 AND state = 'open' AND kind = ANY($2::text[])
"""
# What the shop held of each field the config's previous run wrote back: met again right after that
# write, it is the shop's own form of erpsync's value, not an edit.
SELECT_LAST_WRITTEN_BACK = """
SELECT product_key, field, theirs FROM drift_findings
WHERE config_id = $1 AND product_key = ANY($2::text[]) AND state = 'settled' AND settled_how = 'written back'
  AND settled_run_id = (SELECT max(id) FROM sync_runs
                        WHERE config_id = $1 AND id <> $3 AND NOT dry_run AND finished_at IS NOT NULL)
"""
SETTLE = """
UPDATE drift_findings f SET state = 'settled', settled_at = now(), settled_run_id = $2, settled_how = t.how
FROM unnest($3::bigint[], $4::text[]) AS t(id, how)
WHERE f.config_id = $1 AND f.id = t.id AND f.state = 'open'
"""
# A product gone from the shop, `overwrite`: forgotten, so the run creates it again by its custom ID.
FORGET = FORGET_PRODUCT
JOURNAL_FINDINGS = """
INSERT INTO run_changes (run_id, config_id, product_key, skus, action, changes, result, attempts,
                         shopify_product_id, message)
SELECT $1, $2, t.product_key, ARRAY(SELECT jsonb_array_elements_text(t.skus::jsonb)), t.action, t.changes::jsonb, t.result, 0, t.product_id, t.message
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
     AS t(product_key, skus, action, changes, result, product_id, message)
"""


async def window_start(conn: Executor, config_id: str, run_id: int) -> datetime | None:
    """When the config's last checked run asked the shop (or, before any did, when its last run ended)."""
    value: datetime | None = await conn.fetchval(SELECT_WINDOW_START, config_id, run_id)
    return value


async def owns_any(conn: Executor, config_id: str) -> bool:
    return bool(await conn.fetchval(OWNS_ANY, config_id))


async def count_owned(conn: Executor, config_id: str) -> int:
    return int(await conn.fetchval(COUNT_OWNED, config_id))


async def set_checked(conn: Executor, run_id: int, at: datetime) -> None:
    await conn.execute(SET_CHECKED, run_id, at)


@dataclass(frozen=True, slots=True)
class Owned:
    """A product this config owns, as erpsync last wrote it."""

    product_key: str
    product_id: str
    written: dict[str, Any] | None
    skus: list[str]
    shop_updated_at: str | None = None  # the shop's `updatedAt` when erpsync last wrote or compared it


async def owned(conn: Executor, config_id: str, product_ids: Sequence[str]) -> dict[str, Owned]:
    """Shop product id -> the config's active product there, for the ids this config owns."""
    rows = await conn.fetch(SELECT_OWNED, config_id, list(product_ids))
    return {
        row["shopify_product_id"]: Owned(
            row["product_key"],
            row["shopify_product_id"],
            row["written"],
            list(row["skus"]),
            row["shop_updated_at"],
        )
        for row in rows
    }


SELECT_OWNED_TIMES = """
SELECT shopify_product_id, shop_updated_at FROM product_states
WHERE config_id = $1 AND state = 'active' AND shopify_product_id = ANY($2::text[])
"""


async def owned_times(conn: Executor, config_id: str, product_ids: Sequence[str]) -> dict[str, str | None]:
    """Shop product id -> the `updatedAt` erpsync last saw, for the ids this config owns: what a listing
    is sorted out by, without reading the last-written states."""
    rows = await conn.fetch(SELECT_OWNED_TIMES, config_id, list(product_ids))
    return {row["shopify_product_id"]: row["shop_updated_at"] for row in rows}


SET_SHOP_TIMES = """
UPDATE product_states ps SET shop_updated_at = t.at
FROM unnest($2::text[], $3::text[]) AS t(product_key, at)
WHERE ps.config_id = $1 AND ps.product_key = t.product_key
"""


async def set_shop_times(conn: Executor, config_id: str, times: dict[str, str]) -> None:
    """Each product's `updatedAt` as the shop gave it (product key -> time) once written or compared."""
    if times:
        await conn.execute(SET_SHOP_TIMES, config_id, list(times), list(times.values()))


async def max_variants(conn: Executor, config_id: str) -> int:
    """The most variants one of this config's products has."""
    return int(await conn.fetchval(MAX_VARIANTS, config_id))


async def set_states(
    conn: Executor, config_id: str, states: dict[str, dict[str, Any]], *, write: bool
) -> None:
    """Each product's last-written state as the shop holds it; `write`: written again by this run."""
    if states:
        await conn.execute(
            SET_TO_WRITE if write else SET_WRITTEN,
            config_id,
            list(states),
            [orjson.dumps(state).decode() for state in states.values()],
        )


async def forget(conn: Executor, config_id: str, product_key: str) -> None:
    """A product deleted in the shop, to be created again: its tracking goes."""
    await conn.execute(FORGET, config_id, product_key)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the shop holds that erpsync did not write, and what was done about it."""

    kind: str
    product_key: str | None
    product_id: str | None
    field: str
    path: list[Any] | None
    ours: Any
    theirs: Any
    action: str


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def save_findings(
    conn: Executor, *, config_id: str, shop: str, policy: str, run_id: int, findings: Sequence[Finding]
) -> None:
    """Each finding as an open row, or the open row of its field brought up to date."""
    if not findings:
        return
    await conn.execute(
        UPSERT_FINDING,
        config_id,
        shop,
        policy,
        run_id,
        [f.kind for f in findings],
        [f.product_key for f in findings],
        [f.product_id for f in findings],
        [f.field for f in findings],
        [None if f.path is None else _json(f.path) for f in findings],
        [_json(f.ours) for f in findings],
        [_json(f.theirs) for f in findings],
        [f.action for f in findings],
    )


async def open_findings(conn: Executor, config_id: str, product_keys: Sequence[str]) -> list[asyncpg.Record]:
    """The open findings of these products."""
    return list(await conn.fetch(SELECT_OPEN_FOR, config_id, list(product_keys)))


async def open_of_kinds(conn: Executor, config_id: str, kinds: Sequence[str]) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_OPEN_OF_KINDS, config_id, list(kinds)))


async def last_written_back(
    conn: Executor, config_id: str, run_id: int, product_keys: Sequence[str]
) -> dict[tuple[str, str], Any]:
    """(product key, field) -> what the shop held of it when the previous run wrote it back."""
    rows = await conn.fetch(SELECT_LAST_WRITTEN_BACK, config_id, list(product_keys), run_id)
    return {(row["product_key"], row["field"]): row["theirs"] for row in rows}


async def settle(conn: Executor, config_id: str, run_id: int, settled: dict[int, str]) -> None:
    """Close findings (id -> how they were settled)."""
    if settled:
        await conn.execute(SETTLE, config_id, run_id, list(settled), list(settled.values()))


JournalRow = tuple[str, list[str], str, list[Any], str, str | None, str]


async def journal_findings(conn: Executor, run_id: int, config_id: str, rows: Sequence[JournalRow]) -> None:
    """Journal rows of their own: (product key, SKUs, action, changes, result, product id, message)."""
    if not rows:
        return
    await conn.execute(
        JOURNAL_FINDINGS,
        run_id,
        config_id,
        [row[0] for row in rows],
        [_json(row[1]) for row in rows],
        [row[2] for row in rows],
        [_json(row[3]) for row in rows],
        [row[4] for row in rows],
        [row[5] for row in rows],
        [row[6] for row in rows],
    )


# A config's reconcile schedule: hours between reconciles, its last reconcile's start, its first run's.
SELECT_RECONCILE_TIMES = """
SELECT (c.config ->> 'reconcile_every')::float8 AS every,
       (SELECT max(coalesce(r.started_at, r.queued_at)) FROM sync_runs r
        WHERE r.config_id = c.id AND NOT r.dry_run AND r.reconcile) AS last_reconcile,
       (SELECT min(coalesce(r.started_at, r.queued_at)) FROM sync_runs r
        WHERE r.config_id = c.id AND NOT r.dry_run) AS first_run
FROM product_sync_configs c WHERE c.id = $1
"""
SELECT_FINDINGS = """
SELECT id, kind, product_key, shopify_product_id, field, ours, theirs, policy, action, state, first_seen_at,
       seen_at, seen_run_id, settled_at, settled_how
FROM drift_findings
WHERE config_id = $1 AND ($2::text = 'all' OR state = $2) AND ($3::bigint = 0 OR id < $3)
ORDER BY id DESC LIMIT $4
"""
COUNT_OPEN = """
SELECT config_id, shop, count(*) AS n FROM drift_findings WHERE state = 'open' GROUP BY config_id, shop
"""


async def reconcile_times(
    conn: Executor, config_id: str
) -> tuple[float | None, datetime | None, datetime | None]:
    """(reconcile_every in hours, the last reconcile's start, the first run's start) of a config."""
    row = await conn.fetchrow(SELECT_RECONCILE_TIMES, config_id)
    if row is None:
        return None, None, None
    return row["every"], row["last_reconcile"], row["first_run"]


async def list_findings(
    conn: Executor, config_id: str, *, state: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """A page of the config's findings, newest first, from before the finding `after` (0: the newest)."""
    return [dict(row) for row in await conn.fetch(SELECT_FINDINGS, config_id, state, after, limit)]


async def open_counts(conn: Executor) -> list[tuple[str, str, int]]:
    """Open findings by config and shop, for `/metrics`."""
    return [(row["config_id"], row["shop"], int(row["n"])) for row in await conn.fetch(COUNT_OPEN)]


# `keep`: the run's updates of products with kept fields, with those fields, once the inputs are loaded.
SELECT_KEPT_IN_RUN = """
SELECT f.id, f.product_key, f.path, f.ours, f.theirs, rp.input FROM drift_findings f
JOIN run_products rp ON rp.run_id = $1 AND rp.product_key = f.product_key AND rp.action = 'update'
WHERE f.config_id = $2 AND f.state = 'open' AND f.action = 'kept' AND f.kind = 'field' AND rp.input IS NOT NULL
ORDER BY f.product_key, f.id
"""
SET_INPUTS = """
UPDATE run_products rp SET input = t.input::jsonb
FROM unnest($2::text[], $3::text[]) AS t(product_key, input)
WHERE rp.run_id = $1 AND rp.product_key = t.product_key
"""
# Open findings of the products the run wrote or removed, with what it sent.
SELECT_SETTLED_BY_RUN = """
SELECT f.id, f.kind, f.field, f.path, f.theirs, f.action AS done, rp.action, rp.write_kind, rp.changes, rp.input
FROM drift_findings f
JOIN run_products rp ON rp.run_id = $1 AND rp.product_key = f.product_key AND rp.outcome = 'ok'
WHERE f.config_id = $2 AND f.state = 'open' AND f.kind NOT IN ('duplicate_sku', 'handle_taken')
"""
# A write back's journal row takes the result of the product's write in the run.
SET_DRIFT_RESULTS = """
UPDATE run_changes rc SET result = CASE rp.outcome WHEN 'ok' THEN 'ok' WHEN 'failed' THEN 'failed' ELSE 'unknown' END
FROM run_products rp
WHERE rc.run_id = $1 AND rc.action = 'drift' AND rc.result = 'unknown'
  AND rp.run_id = $1 AND rp.product_key = rc.product_key AND rp.outcome IS NOT NULL
"""


async def kept_in_run(conn: Executor, run_id: int, config_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_KEPT_IN_RUN, run_id, config_id))


async def set_inputs(conn: Executor, run_id: int, inputs: dict[str, dict[str, Any]]) -> None:
    if inputs:
        await conn.execute(SET_INPUTS, run_id, list(inputs), [_json(value) for value in inputs.values()])


async def settled_by_run(conn: Executor, run_id: int, config_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(SELECT_SETTLED_BY_RUN, run_id, config_id))


async def set_drift_results(conn: Executor, run_id: int) -> None:
    await conn.execute(SET_DRIFT_RESULTS, run_id)
