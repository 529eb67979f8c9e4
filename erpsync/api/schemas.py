"""Response and query models of the API; with `SyncConfig` they are the source of `/openapi.json`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from erpsync.models import CONFIG_ID_PATTERN


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
    run_id: int | None = Field(default=None, ge=1)
    since: datetime | None = None
    before: int | None = Field(default=None, ge=1, description="cursor: the `next` of the previous page")
    limit: int = Field(default=100, ge=1, le=1000)


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


class RunsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=500)
