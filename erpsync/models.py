"""The sync config: the one document a merchant writes, validated where it enters (API, CLI, files).

Pydantic lives here and in `settings.py` only; the pipeline stages exchange frozen dataclasses.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from erpsync.feed_config import FieldRule, Grouping, PriceRule, WeightUnit
from erpsync.logs import URL_PARAM, URL_PASSWORD, is_secret_param, mask_url, url_secrets
from erpsync.stock_rules import StockMode

ConnectionType = Literal["ftp", "ftps", "sftp", "http", "file"]
FeedFormat = Literal["csv", "json", "jsonl", "xml", "xlsx", "ods"]
DeletePolicy = Literal["delete", "archive", "draft", "ignore"]
DriftPolicy = Literal["overwrite", "keep", "report"]
Compression = Literal["auto", "none", "gzip", "zip"]

CONFIG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ConfigId = Annotated[str, StringConstraints(pattern=CONFIG_ID_PATTERN)]

# Shopify's metafield types a feed value is checked against: https://shopify.dev/docs/apps/build/custom-data/metafields/list-of-data-types
SCALAR_METAFIELD_TYPES: tuple[str, ...] = (
    "single_line_text_field",
    "multi_line_text_field",
    "rich_text_field",
    "number_integer",
    "number_decimal",
    "boolean",
    "date",
    "date_time",
    "json",
    "url",
    "color",
    "weight",
    "volume",
    "dimension",
    "rating",
    "money",
    "product_reference",
    "variant_reference",
    "collection_reference",
    "file_reference",
    "page_reference",
    "metaobject_reference",
)
LIST_METAFIELD_TYPES: tuple[str, ...] = tuple(
    f"list.{name}"
    for name in SCALAR_METAFIELD_TYPES
    if name not in {"multi_line_text_field", "rich_text_field", "json", "boolean", "money"}
)
METAFIELD_TYPES: frozenset[str] = frozenset(SCALAR_METAFIELD_TYPES + LIST_METAFIELD_TYPES)

# Targets a mapping may write. `variant.*` lands on each variant, the rest on the product.
PRODUCT_TARGETS: frozenset[str] = frozenset(
    {
        "title",
        "description",
        "vendor",
        "product_type",
        "tags",
        "status",
        "handle",
        "images",
        "seo_title",
        "seo_description",
        # A product's option names, read from its first row (Shopify's CSV "Option1 Name" ...).
        "option1.name",
        "option2.name",
        "option3.name",
    }
)
VARIANT_TARGETS: frozenset[str] = frozenset(
    {
        "variant.sku",
        "variant.price",
        "variant.compare_at_price",
        "variant.barcode",
        "variant.inventory_quantity",
        "variant.weight",
        "variant.weight_unit",
        "variant.option1",
        "variant.option2",
        "variant.option3",
        "variant.taxable",
        "variant.image",
        # When a row has one, the sale price is the price and variant.price's value the compare-at price.
        "variant.sale_price",
    }
)
MAPPING_TARGETS: frozenset[str] = PRODUCT_TARGETS | VARIANT_TARGETS

MASKED = "***"
# What the validators below enforce, stated in the JSON schema too (and so in /openapi.json).
METAFIELD_TYPE_SCHEMA: dict[str, Any] = {"enum": sorted(METAFIELD_TYPES)}
MAPPING_SCHEMA: dict[str, Any] = {
    "required": ["variant.sku"],
    "propertyNames": {"enum": sorted(MAPPING_TARGETS)},
    "additionalProperties": {"type": "string", "minLength": 1, "pattern": r"\S"},
}


class FieldProblem(ValueError):
    """A cross-field rule broken at a known path, so the API can name the field, not just the model."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


class StrictModel(BaseModel):
    """Unknown keys are refused so that a typo in a config is an error, not a silently ignored field."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Credentials(StrictModel):
    """Where the feed lives. Which keys are required depends on the connection type."""

    host: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"\S")
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=255)
    password: SecretStr | None = None
    file_path: str | None = Field(default=None, alias="filePath", min_length=1, max_length=1024)
    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    private_key: SecretStr | None = None
    passphrase: SecretStr | None = None
    host_key_fingerprint: str | None = None
    known_hosts: str | None = None
    verify: bool = True
    timeout: float = Field(default=60.0, gt=0, le=3600)


class FormatOptions(StrictModel):
    """How to read the feed's bytes; every key is optional and sensible by default."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8"
    has_header: bool = True
    records_path: str | None = None
    compression: Compression = "auto"
    decimal_comma: bool = False
    tags_separator: str = ","
    # XLSX and ODS: the sheet to read, by name or 0-based index (default: the first).
    sheet: str | int | None = None
    # The longest cell read, in characters (CSV, XLSX) or bytes (JSON, XML strings); a longer one rejects
    # its row. Shopify's longest field (a description) takes 512 KB, so 8 MiB leaves room for any real one.
    max_cell_size: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value


class MetafieldMapping(StrictModel):
    """One feed field written to one metafield, its value checked against the metafield's type."""

    source_key: str = Field(alias="sourceKey", min_length=1)
    namespace: str = Field(alias="metafieldNamespace", min_length=2, max_length=255)
    key: str = Field(alias="metafieldKey", min_length=2, max_length=64)
    type: str = Field(alias="metafieldType", json_schema_extra=METAFIELD_TYPE_SCHEMA)
    owner: Literal["product", "variant"] = "product"

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in METAFIELD_TYPES:
            raise ValueError(f"unknown metafield type {value!r}")
        return value


class ShopOverride(StrictModel):
    """A config may write to another shop than the default one, with that shop's own credentials."""

    shop: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None


def _required_credentials(kind: str, *keys: str) -> dict[str, Any]:
    return {
        "if": {"properties": {"connection_type": {"const": kind}}, "required": ["connection_type"]},
        "then": {"properties": {"credentials": {"required": list(keys)}}},
    }


# The rules `_credentials_for_connection` enforces, in the schema too (OpenAPI 3.1 has if/then).
CREDENTIAL_RULES: dict[str, Any] = {
    "allOf": [
        _required_credentials("ftp", "host", "filePath"),
        _required_credentials("ftps", "host", "filePath"),
        _required_credentials("sftp", "host", "filePath"),
        _required_credentials("http", "url"),
        _required_credentials("file", "filePath"),
    ]
}


class SyncConfig(StrictModel):
    """A sync config as the API, the CLI and the database know it (the seed's schema, extended)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=CREDENTIAL_RULES)

    id: ConfigId
    name: str = Field(min_length=1, max_length=255)
    enabled: bool = True
    connection_type: ConnectionType
    credentials: Credentials
    format: FeedFormat | None = None
    format_options: FormatOptions = Field(default_factory=FormatOptions)
    mapping: dict[str, str] = Field(json_schema_extra=MAPPING_SCHEMA)
    # Targets computed rather than read from one path: constants, first non-empty, value maps.
    rules: dict[str, FieldRule] = Field(default_factory=dict)
    product_key: str | None = None
    grouping: Grouping = Field(default_factory=Grouping)
    price_rule: PriceRule | None = None
    # The unit of a weight the feed gives without one; unset, such a weight is a row error, not kilograms.
    default_weight_unit: WeightUnit | None = None
    # Relative image paths ("/m/h/mh01.jpg") are resolved against this http(s) URL.
    image_base_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    options: list[str] = Field(default_factory=list, max_length=3)
    metafield_mappings: list[MetafieldMapping] = Field(default_factory=list)
    sync_frequency: float | None = Field(default=24.0, gt=0, le=24 * 366)
    schedule: str | None = None
    delete_policy: DeletePolicy = "delete"
    max_delete_fraction: float | None = Field(default=None, ge=0, le=1)
    location_id: str | None = None
    shop: ShopOverride | None = None
    # Sales channels (by name) its created products are published on, [] for none (erpsync/publications.py).
    publications: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=lambda: ["Online Store"], max_length=50
    )
    # Stock (erpsync/stock_rules.py): "absolute" or "delta"; never more than the ERP's less `safety_stock`.
    stock_mode: StockMode = "absolute"
    safety_stock: int = Field(default=0, ge=0, le=1_000_000_000)
    # What a mapped field edited in the shop becomes (erpsync/drift.py); hours between whole-shop reconciles.
    drift_policy: DriftPolicy = "overwrite"
    reconcile_every: float | None = Field(default=None, gt=0, le=24 * 366)

    @field_validator("sync_frequency", "reconcile_every", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        """The seed stores hours as a string ("24"); accept it, refuse anything that is not a number."""
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError as exc:
                raise ValueError(f"must be a number of hours, got {value!r}") from exc
        if isinstance(value, bool):
            raise ValueError("must be a number of hours")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression ({exc})") from exc
        return value

    @field_validator("mapping")
    @classmethod
    def _mapping_targets(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - MAPPING_TARGETS)
        if unknown:
            raise ValueError(f"unknown mapping target(s): {', '.join(unknown)}")
        if not value.get("variant.sku"):
            raise ValueError("mapping must name the feed field for 'variant.sku'")
        for target, path in value.items():
            if not path or not path.strip():
                raise ValueError(f"mapping target {target!r} has an empty source path")
        return value

    @field_validator("rules")
    @classmethod
    def _rule_targets(cls, value: dict[str, FieldRule]) -> dict[str, FieldRule]:
        unknown = sorted(set(value) - MAPPING_TARGETS)
        if unknown:
            raise ValueError(f"unknown rule target(s): {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _credentials_for_connection(self) -> SyncConfig:
        creds = self.credentials
        kind = self.connection_type
        if kind in {"ftp", "ftps", "sftp"}:
            if not creds.host:
                raise FieldProblem("credentials.host", f"credentials.host is required for {kind}")
            if not creds.file_path:
                raise FieldProblem("credentials.filePath", f"credentials.filePath is required for {kind}")
        elif kind == "http":
            if not creds.url or not re.match(r"^https?://", creds.url):
                raise FieldProblem("credentials.url", "credentials.url must be an http:// or https:// URL")
        elif kind == "file" and not creds.file_path:
            raise FieldProblem("credentials.filePath", "credentials.filePath is required for file")
        both = sorted(set(self.mapping) & set(self.rules))
        if both:
            raise FieldProblem("rules", f"target(s) both mapped and given a rule: {', '.join(both)}")
        option_targets = [f"variant.option{i}" for i in range(1, 4) if f"variant.option{i}" in self.mapping]
        if len(option_targets) > len(self.options) and self.options:
            raise FieldProblem(
                "options", "options names fewer options than the mapping's variant.optionN fields"
            )
        return self


def secret_paths(config: SyncConfig) -> list[SecretStr]:
    """Every secret a config holds, so logs and error messages can be scrubbed of them (a feed URL's
    password and `?token=`-like query values included)."""
    found: list[SecretStr] = []
    creds = config.credentials
    for secret in (creds.password, creds.private_key, creds.passphrase, *creds.headers.values()):
        if secret is not None:
            found.append(secret)
    found += [SecretStr(value) for value in url_secrets(creds.url or "")]
    if config.shop is not None:
        for secret in (config.shop.access_token, config.shop.client_secret):
            if secret is not None:
                found.append(secret)
    return found


def public_view(config: SyncConfig) -> dict[str, Any]:
    """The config as the API shows it: secrets replaced by "***" (in the feed URL too), field names as the
    seed spells them."""
    data: dict[str, Any] = _mask(config.model_dump(mode="json", by_alias=True))
    if data["credentials"].get("url"):
        data["credentials"]["url"] = mask_url(data["credentials"]["url"])
    return data


def keep_url_secrets(new: str, old: str | None) -> tuple[str, list[str]]:
    """`new` with each credential shown as "***" (password, secret query value) taken from `old`, as a PUT
    of a shown config sends it back; and the names of those `old` had no value for.

    A query value is matched by its parameter's name, the n-th "***" of a name to the n-th of `old`.
    """
    old = old or ""
    stored: dict[str, list[str]] = {}
    for match in URL_PARAM.finditer(old):
        stored.setdefault(match[2], []).append(match[3])
    passwords = [match[2] for match in URL_PASSWORD.finditer(old)]
    missing: list[str] = []

    def param(match: re.Match[str]) -> str:
        separator, name, value = match.groups()
        if value != MASKED or not is_secret_param(name):
            return match[0]
        values = stored.get(name) or []
        if not values:
            missing.append(name)
            return match[0]
        return f"{separator}{name}={values.pop(0)}"

    def password(match: re.Match[str]) -> str:
        if match[2] != MASKED:
            return match[0]
        if not passwords:
            missing.append("password")
            return match[0]
        return match[1] + passwords[0]

    return URL_PARAM.sub(param, URL_PASSWORD.sub(password, new)), missing


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str) and value.startswith("**********"):
        return MASKED
    return value
