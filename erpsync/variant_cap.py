"""The daily variant creation cap, as a run meets it: created what the shop allowed, the rest deferred.

Shops below Plus that hold 50,000 variants may create only 1,000 new variants a day ("a throttle that takes
effect when a store has 50,000 product variants. After this threshold is reached, no more than 1,000 new
product variants can be created per day": the productCreate reference, https://shopify.dev/docs/api/admin-graphql;
https://shopify.dev/changelog/api-call-limits-will-be-applied-to-variant-creation). A refused line carries
"Daily variant creation limit reached. Please try again later." (the recorded REST reply; matched here on
that text, since no GraphQL code for it is documented). Such a line is never retried within the run: every
further attempt that day is refused the same way. Its product is not recorded as written, so it is sent
again; updates and deletes go on meanwhile. Once a run of a config met the cap, the config's later runs that
UTC day hold their new products back unsent (each would only be refused again), and the first run of the
next day sends them: one refused attempt a day at most, not one a run.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from erpsync.db.deferred import CAP_TEXT, count_capped, hold_creates_if_capped_today
from erpsync.db.logs import add_log
from erpsync.db.pool import Executor
from erpsync.logs import get_logger
from erpsync.settings import SyncSettings

log = get_logger("erpsync.variant_cap")
HELD_MESSAGE = (
    "held back: the shop's daily variant creation limit was reached earlier today (UTC); "
    "sent again by the first run tomorrow"
)
CAP_CODES = frozenset({"VARIANT_THROTTLE_EXCEEDED"})  # not seen in the schema; accepted should it appear


def is_daily_variant_cap(errors: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a result line's errors say the shop's daily variant cap refused it (not a transient error)."""
    for error in errors:
        code = str((error.get("extensions") or {}).get("code") or error.get("code") or "")
        if code in CAP_CODES or CAP_TEXT in str(error.get("message") or "").lower():
            return True
    return False


@dataclass(frozen=True, slots=True)
class Deferred:
    """What the cap held back in one run, and when the catalogue should be complete at the daily rate."""

    products: int
    variants: int
    per_day: int
    today: datetime.date

    @property
    def days(self) -> int:
        return max(1, math.ceil(self.variants / self.per_day))

    @property
    def complete_by(self) -> datetime.date:
        return self.today + datetime.timedelta(days=self.days)

    @property
    def reason(self) -> str:
        return (
            f"the shop's daily variant creation limit was reached: {self.products:,} products "
            f"({self.variants:,} variants) wait for the following days and are sent again by the next runs; "
            f"at {self.per_day:,} new variants a day the catalogue should be complete in about {self.days} "
            f"day{'s' if self.days != 1 else ''} (around {self.complete_by.isoformat()})"
        )

    def counts(self) -> dict[str, Any]:
        return {
            "deferred_products": self.products,
            "deferred_variants": self.variants,
            "catalogue_complete_estimate": self.complete_by.isoformat(),
        }


async def deferred_by_cap(
    conn: Executor, run_id: int, *, per_day: int, today: datetime.date | None = None
) -> Deferred | None:
    """The run's products refused by the cap, or None when the cap refused none."""
    products, variants = await count_capped(conn, run_id)
    if not products:
        return None
    return Deferred(products, variants, per_day, today or datetime.datetime.now(datetime.UTC).date())


async def record_deferred(
    conn: Executor, config_id: str, run_id: int, counts: dict[str, Any], sync: SyncSettings
) -> Deferred | None:
    """Count the run's capped products apart from its failures and say once, in the log, when the rest come."""
    deferred = await deferred_by_cap(conn, run_id, per_day=sync.daily_variant_cap)
    if deferred is not None:
        counts.update(deferred.counts(), failed=counts["failed"] - deferred.products)
        await add_log(conn, config_id=config_id, run_id=run_id, level="warning", message=deferred.reason)
    return deferred


async def hold_creates(conn: Executor, config_id: str, run_id: int) -> int:
    """Before publishing: hold the run's new products back when the config met the cap earlier today."""
    held = await hold_creates_if_capped_today(conn, config_id, run_id, HELD_MESSAGE)
    if held:
        log.info("new products held back for the daily variant creation limit", products=held)
    return held
