"""Process settings: `erpsync.toml` overridden by the environment, validated once at start-up.

The file is found by `--config`, else `$ERPSYNC_CONFIG`, else `./erpsync.toml`, else
`/etc/erpsync/erpsync.toml`. `ERPSYNC_SECTION__KEY` overrides a key; the seed's plain names
(`DATABASE_URL`, `PORT`, ...) are accepted too. A bad value becomes a `SettingsError` whose one line
names the key and the file or variable it came from, so start-up never ends in a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from erpsync.errors import SettingsError

ENV_PREFIX = "ERPSYNC_"
CONFIG_ENV = "ERPSYNC_CONFIG"
DEFAULT_PATHS = (Path("erpsync.toml"), Path("/etc/erpsync/erpsync.toml"))

# The seed's environment names, kept so an existing deployment's environment file works unchanged.
PLAIN_ENV_NAMES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("redis", "url"),
    "PORT": ("api", "port"),
    "SHOPIFY_SHOP": ("shopify", "shop"),
    "SHOPIFY_API_VERSION": ("shopify", "api_version"),
    "SHOPIFY_ACCESS_TOKEN": ("shopify", "access_token"),
}


class Section(BaseModel):
    """A settings table; unknown keys are errors so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "postgresql://erpsync@localhost/erpsync"
    min_connections: int = Field(default=0, ge=0, le=100)  # 0: start even while PostgreSQL is down
    max_connections: int = Field(default=10, ge=1, le=500)
    connect_timeout: float = Field(default=10.0, gt=0)


class RedisSettings(Section):
    url: str = "redis://127.0.0.1:6379/0"


class ApiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    token: SecretStr | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    idle_timeout: float = Field(default=15.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    status_cache_seconds: float = Field(default=1.0, ge=0)


class ShopifySettings(Section):
    shop: str = ""
    api_version: str = Field(default="2026-10", pattern=r"^\d{4}-\d{2}$|^unstable$")
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    base_url: str = ""
    timeout: float = Field(default=60.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=6, ge=0, le=50)
    retry_base_delay: float = Field(default=0.5, ge=0)
    retry_max_delay: float = Field(default=30.0, ge=0)
    poll_interval: float = Field(default=2.0, gt=0)


class WorkerSettings(Section):
    max_jobs: int = Field(default=4, ge=1, le=256)
    job_timeout: float = Field(default=6 * 3600, gt=0)
    stop_timeout: float = Field(default=30.0, ge=0)
    resume_interval: float = Field(default=30.0, gt=0)


class SyncSettings(Section):
    max_delete_fraction: float = Field(default=0.2, ge=0, le=1)
    bulk_concurrency: int = Field(default=5, ge=1, le=5)
    work_dir: Path = Path("/var/lib/erpsync")
    file_root: Path | None = None
    allow_private_sources: bool = False
    # The products a run updates are read from the shop first, by bulk exports of `id:` searches up to
    # this many products; past it, by one export of the whole shop. New SKUs are always searched for by
    # SKU (adoption never exports the shop), however many there are: this no longer bounds them.
    sku_lookup_limit: int = Field(default=200, ge=0)
    # A feed stops with an error past either cap (0: none), so a few hundred KB of gzip cannot expand
    # into hours of rows. 5 million rows is five times the largest feed measured (a million rows read
    # in ~8 s with ~100 MB of memory); 10 GB decompressed leaves 2 KB a row at that count, room for
    # long HTML descriptions, and still reads in minutes.
    max_feed_rows: int = Field(default=5_000_000, ge=0)
    max_feed_bytes: int = Field(default=10_000_000_000, ge=0)
    # What a new or re-enabled config does first: "now" queues its first run at once; "schedule" waits
    # one interval (or the next cron time) after it was created or enabled.
    first_run: Literal["now", "schedule"] = "now"
    # Runs and log lines older than this are pruned by the scheduling process (each config keeps its
    # latest run and its latest succeeded run).
    journal_days: int = Field(default=90, ge=1)
    # A failed run is tried again this many seconds after it started, doubling with each failure in a
    # row, when that comes before the config's next scheduled run (0: wait for the schedule).
    retry_failed_after: float = Field(default=300.0, ge=0)
    # --- store limits: new variants a shop below Plus may create a day once it holds 50,000, for the
    # estimate of when a capped catalogue is complete. https://shopify.dev/changelog/api-call-limits-will-be-applied-to-variant-creation
    daily_variant_cap: int = Field(default=1_000, ge=1)
    # Each change goes out as the lightest mutation that expresses it (a price alone: a variant update,
    # not a whole productSet). False: every update is a productSet, as before field-level changes.
    lightest_writes: bool = True
    # Each run asks the shop what changed since the previous checked run asked, this much earlier: Shopify's
    # search index and its events lag behind writes (erpsync/drift_check.py).
    drift_overlap_seconds: float = Field(default=60.0, ge=0, le=86_400)


class SecuritySettings(Section):
    secret_key: SecretStr | None = None
    previous_keys: list[SecretStr] = Field(default_factory=list)


class LogSettings(Section):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class FtpSettings(Section):
    """The seed's default FTP server, used by configs that name no host."""

    host: str | None = None
    port: int = Field(default=21, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None


NotifyEvent = Literal["failed", "needs_attention", "partial", "recovered"]
NOTIFY_EVENTS: list[NotifyEvent] = ["failed", "needs_attention", "partial", "recovered"]


def _all_events() -> list[NotifyEvent]:
    return list(NOTIFY_EVENTS)


class Webhook(Section):
    """One receiver of notifications: its URL, the events it wants, the key its bodies are signed with."""

    url: str = Field(pattern=r"^https?://")
    events: list[NotifyEvent] = Field(default_factory=_all_events)
    secret: SecretStr | None = None


class NotifySettings(Section):
    """Webhooks told once when a config's runs start failing, need attention or go partial, and once
    when that is over."""

    webhooks: list[Webhook] = Field(default_factory=list)
    api_url: str | None = None
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_delay: float = Field(default=10.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)


class Settings(BaseSettings):
    """Everything the process needs, passed down explicitly (never imported as a global)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    shopify: ShopifySettings = Field(default_factory=ShopifySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    ftp: FtpSettings = Field(default_factory=FtpSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: ERPSYNC_* variables, the seed's plain names, then the TOML file (passed as init).
        return (_PrefixedEnvSource(settings_cls), _PlainEnvSource(settings_cls), init_settings)


class _PrefixedEnvSource(EnvSettingsSource):
    """`ERPSYNC_SECTION__KEY`; `ERPSYNC_CONFIG` names the file and is not a setting."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        data.pop("config", None)
        return data


class _PlainEnvSource(PydanticBaseSettingsSource):
    """The seed's variable names (`DATABASE_URL`, `PORT`, ...), below the prefixed ones."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, str]] = {}
        for name, (section, key) in PLAIN_ENV_NAMES.items():
            value = os.environ.get(name)
            if value is not None and value != "":
                data.setdefault(section, {})[key] = value
        return data


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file in the documented order; an explicitly named file must exist."""
    named = explicit or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            origin = "--config" if explicit else CONFIG_ENV
            raise SettingsError(f"settings file {path} (from {origin}) does not exist")
        return path
    for candidate in DEFAULT_PATHS:
        if candidate.is_file():
            return candidate
    return None


def load_settings(config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Read, merge and validate the settings, or raise one `SettingsError` naming key and origin."""
    path = find_config_file(config_file)
    file_data: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as handle:
                file_data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise SettingsError(f"settings file {path} cannot be read: {exc.strerror}") from exc
    try:
        return Settings(**file_data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path, file_data)) from None


def _describe(exc: ValidationError, path: Path | None, file_data: dict[str, Any]) -> str:
    """One line per bad key: `api.port: Input should be ... (from environment variable PORT)`."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        lines.append(f"setting {key}: {error['msg']} ({_origin(loc, path, file_data)})")
    return "; ".join(lines)


def _origin(loc: list[str], path: Path | None, file_data: dict[str, Any]) -> str:
    prefixed = ENV_PREFIX + "__".join(part.upper() for part in loc)
    if prefixed in {name.upper() for name in os.environ}:
        return f"from environment variable {prefixed}"
    for name, target in PLAIN_ENV_NAMES.items():
        if list(target) == loc[:2] and os.environ.get(name):
            return f"from environment variable {name}"
    if path is not None and loc and loc[0] in file_data:
        return f"in {path}"
    return "default"
