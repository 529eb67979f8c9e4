"""Response and query models of the API; with `SyncConfig` they are the source of `/openapi.json`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from erpsync.models import CONFIG_ID_PATTERN

BIGINT_MAX = 2**63 - 1  # ids are PostgreSQL bigints
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorInfo


class StoredConfigOut(BaseModel):
    """A config as returned: the submitted fields with secrets shown as "***", plus timestamps."""

    model_config = ConfigDict(extra="allow")

    id: str
    created_at: datetime
    updated_at: datetime


class LogQuery(BaseModel):
    """Filters of `GET /logs`; unknown parameters are refused so a typo does not return everything."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["debug", "info", "warning", "error"] | None = None
    config_id: str | None = Field(default=None, pattern=CONFIG_ID_PATTERN)
    run_id: int | None = Field(default=None, ge=1, le=BIGINT_MAX)
    since: datetime | None = Field(default=None, description="ISO 8601 date-time, e.g. 2026-11-25T08:00:00Z")
    before: int | None = Field(
        default=None, ge=1, le=BIGINT_MAX, description="cursor: the `next` of the previous page"
    )
    limit: int = Field(default=100, ge=1, le=1000)

    @field_validator("since", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        """A bare number would be read as a Unix time; a date must be written as one."""
        if isinstance(value, str) and not ISO_DATE.match(value):
            raise ValueError("must be an ISO 8601 date-time such as 2026-11-25T08:00:00Z")
        return value

    @field_validator("since")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        """0001-01-01T00:00+01:00 is a valid date-time whose UTC instant falls before year 1."""
        if value is not None and value.tzinfo is not None:
            try:
                value.astimezone(UTC)
            except OverflowError:
                raise ValueError("is out of range once converted to UTC") from None
        return value


class LogLineOut(BaseModel):
    id: int
    config_id: str
    run_id: int | None
    level: str
    sku: str | None
    message: str
    details: Any = None
    created_at: datetime


class LogPage(BaseModel):
    logs: list[LogLineOut]
    next: int | None = Field(description="pass as `before` to get the next (older) page; null at the end")


class CheckOut(BaseModel):
    ok: bool
    error: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckOut]


class SyncQuery(BaseModel):
    """Options of `POST /sync/{id}`."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    allow_mass_delete: bool = False


class RevertQuery(BaseModel):
    """Options of `POST /runs/{run_id}/revert`."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    allow_mass_delete: bool = False


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=500)


# `drift`: what the shop held that erpsync had not written (before: ours, after: the shop's).
JournalAction = Literal["create", "update", "delete", "archive", "draft", "conflict", "held", "drift"]


class ChangesQuery(BaseModel):
    """Filters of `GET /runs/{run_id}/changes`."""

    model_config = ConfigDict(extra="forbid")

    action: JournalAction | None = None
    sku: str | None = Field(default=None, min_length=1, description="products with this SKU on a variant")
    after: int = Field(default=0, ge=0, le=BIGINT_MAX, description="cursor: the `next` of the previous page")
    limit: int = Field(default=100, ge=1, le=1000)


class HistoryQuery(BaseModel):
    """Paging of `GET /configs/{id}/products/{sku}/history`."""

    model_config = ConfigDict(extra="forbid")

    before: int | None = Field(
        default=None, ge=1, le=BIGINT_MAX, description="cursor: the `next` of the previous (newer) page"
    )
    limit: int = Field(default=100, ge=1, le=1000)


class DriftQuery(BaseModel):
    """Filters of `GET /configs/{id}/drift`."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "settled", "all"] = "open"
    after: int = Field(default=0, ge=0, le=BIGINT_MAX, description="cursor: the `next` of the previous page")
    limit: int = Field(default=100, ge=1, le=1000)


QUERY_MODELS = frozenset(
    model.__name__
    for model in (LogQuery, SyncQuery, RevertQuery, RunsQuery, ChangesQuery, HistoryQuery, DriftQuery)
)


class FindingOut(BaseModel):
    """Something the shop holds of the config's products that erpsync did not write: `kind` field, deleted,
    variant_added, variant_removed, duplicate_sku or handle_taken; `ours` what erpsync wrote, `theirs` what
    the shop holds; `action` what was done (written back, created again, kept, reported); `state` open
    until the shop holds erpsync's value again, a write settles it, or the product leaves the feed."""

    id: int
    kind: str
    product_key: str | None
    shopify_product_id: str | None
    field: str
    ours: Any = None
    theirs: Any = None
    policy: Literal["overwrite", "keep", "report"]
    action: str
    state: Literal["open", "settled"]
    first_seen_at: datetime
    seen_at: datetime
    seen_run_id: int | None
    settled_at: datetime | None
    settled_how: str | None


class FindingPage(BaseModel):
    findings: list[FindingOut]
    next: int | None = Field(description="pass as `after` for the next page")


class FieldChange(BaseModel):
    """One field an update changed; variants are named by SKU (`variants[SKU-1].price`)."""

    field: str
    before: Any = None
    after: Any = None


class ChangeOut(BaseModel):
    """What one run did to one product. `result`: ok, retried (written after its line was sent again),
    failed, unknown (no answer came), skipped (a conflict or a write held back: never sent)."""

    id: int
    run_id: int
    config_id: str
    product_key: str
    skus: list[str]
    action: JournalAction
    changes: list[FieldChange] | None = Field(description="an update's changed fields; null otherwise")
    result: Literal["ok", "retried", "failed", "unknown", "skipped"]
    attempts: int = Field(description="lines sent for the product in the run")
    shopify_product_id: str | None
    bulk_operation_id: str | None = Field(description="the bulk operation of the product's last result line")
    line_number: int | None = Field(
        description="that line's `__lineNumber` in the operation's file (0-based)"
    )
    message: str | None
    at: datetime


class ChangePage(BaseModel):
    changes: list[ChangeOut]
    next: int | None = Field(
        description="pass as the cursor (`after`, or `before` for a history) for the next page"
    )


class SyncQueued(BaseModel):
    run_id: int
    status: Literal["queued"]
    created: bool
    # Present when Redis could not be reached: the run waits queued in PostgreSQL until it is back.
    warning: str | None = None


class RevertQueued(SyncQueued):
    """A revert queued as a run of the reverted run's config (trigger `revert`)."""

    reverts_run_id: int


class RunOut(BaseModel):
    """A run: its status and stage, counts, seconds per stage, progress while running, bulk operations.

    `status` is queued, running, succeeded, partial, needs_attention, failed, canceled or unchanged (the
    feed is the one last synced and nothing else needed work: nothing parsed or sent; `counts.unchanged_reason`
    says how it was known, `counts.feed_bytes_transferred` what was downloaded).
    `counts.rejected_products` names up to 100 products the feed's rows rejected (key, SKUs, first error;
    `counts.rejected_products_more` the rest) and `counts.warnings` the map stage's warnings.
    A revert (`trigger` revert) names the run it reverts in `reverts_run_id`; `counts.revert_skipped` counts
    the products it left alone and `counts.revert_skips` names up to 100 (key, SKUs, reason).
    """

    model_config = ConfigDict(extra="allow")

    id: int
    config_id: str
    status: str
    counts: dict[str, Any]
    timings: dict[str, float]
    progress: dict[str, Any]
    trigger: str
    reverts_run_id: int | None = None


class ConfigStatus(BaseModel):
    config_id: str
    enabled: bool
    last_run: dict[str, Any] | None
    next_run_at: datetime | None
    running: dict[str, Any] | None


class SyncStatusOut(BaseModel):
    configs: list[ConfigStatus]
    queue_depth: int
