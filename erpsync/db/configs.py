"""Sync configs in `product_sync_configs`: secrets split out and encrypted, the rest as JSONB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from pydantic import SecretStr

from erpsync.crypto import SecretBox
from erpsync.db.pool import Executor
from erpsync.errors import ConfigError, ConfigNotFound
from erpsync.logs import mask_url, url_secrets
from erpsync.models import MASKED, SyncConfig, keep_url_secrets


@dataclass(frozen=True, slots=True)
class StoredConfig:
    config: SyncConfig
    created_at: datetime
    updated_at: datetime


SELECT_CONFIGS = """
SELECT id, config, secrets, created_at, updated_at FROM product_sync_configs ORDER BY id
"""
CONFIG_EXISTS = "SELECT 1 FROM product_sync_configs WHERE id = $1"
SELECT_CONFIG = """
SELECT id, config, secrets, created_at, updated_at FROM product_sync_configs WHERE id = $1
"""
INSERT_CONFIG = """
INSERT INTO product_sync_configs (id, name, enabled, connection_type, config, secrets)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO NOTHING
RETURNING created_at, updated_at
"""
UPSERT_CONFIG = """
INSERT INTO product_sync_configs (id, name, enabled, connection_type, config, secrets)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, enabled = EXCLUDED.enabled,
    connection_type = EXCLUDED.connection_type, config = EXCLUDED.config, secrets = EXCLUDED.secrets,
    updated_at = now(),
    enabled_at = CASE WHEN EXCLUDED.enabled AND NOT product_sync_configs.enabled THEN now()
                      ELSE product_sync_configs.enabled_at END
RETURNING created_at, updated_at, (xmax = 0) AS inserted
"""
UPDATE_CONFIG = """
UPDATE product_sync_configs
SET name = $2, enabled = $3, connection_type = $4, config = $5, secrets = $6, updated_at = now(),
    enabled_at = CASE WHEN $3 AND NOT enabled THEN now() ELSE enabled_at END
WHERE id = $1
RETURNING created_at, updated_at
"""
DELETE_CONFIG = "DELETE FROM product_sync_configs WHERE id = $1"
# Its runs and log lines stay unless purged (0005_config_lifecycle.sql).
PURGE_LOGS = "DELETE FROM sync_logs WHERE config_id = $1"
PURGE_RUNS = "DELETE FROM sync_runs WHERE config_id = $1"
SET_ENABLED = """
UPDATE product_sync_configs
SET enabled = $2, config = jsonb_set(config, '{enabled}', to_jsonb($2::boolean)), updated_at = now(),
    enabled_at = CASE WHEN $2 AND NOT enabled THEN now() ELSE enabled_at END
WHERE id = $1
RETURNING (SELECT enabled FROM product_sync_configs WHERE id = $1) AS was_enabled
"""


def split_secrets(config: SyncConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """The config as storable JSON with secrets nulled, and the secrets keyed by their dotted path.

    A feed URL carrying a credential (`?token=`, `user:pass@`) is a secret whole: the JSON keeps it masked.
    """
    secrets: dict[str, str] = {}

    def walk(value: Any, json_value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, SecretStr):
            secrets[secret_key(path)] = value.get_secret_value()
            return None
        if isinstance(value, dict):
            return {key: walk(item, json_value[key], (*path, str(key))) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, json_value[index], (*path, index)) for index, item in enumerate(value)]
        return json_value

    stored = walk(
        config.model_dump(mode="python", by_alias=True), config.model_dump(mode="json", by_alias=True), ()
    )
    url = config.credentials.url
    if url and url_secrets(url):
        secrets[URL_KEY] = url
        stored["credentials"]["url"] = mask_url(url)
    return stored, secrets


def join_secrets(stored: dict[str, Any], secrets: dict[str, str]) -> SyncConfig:
    """Put decrypted secrets back at their paths and validate the whole config again."""
    data: dict[str, Any] = _deep_copy(stored)
    for key, value in secrets.items():
        node: Any = data
        parts = secret_path(key)
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(str(part), {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[str(parts[-1])] = value
    return SyncConfig.model_validate(data)


def secret_key(path: tuple[str | int, ...]) -> str:
    """A secret's place as a JSON array: header names may hold dots, so dotted paths are ambiguous."""
    return orjson.dumps(list(path)).decode()


URL_KEY = secret_key(("credentials", "url"))


def secret_path(key: str) -> list[str | int]:
    """The inverse of `secret_key`; dotted keys written by earlier versions are still read."""
    if key.startswith("["):
        return list(orjson.loads(key))
    return list(key.split("."))


def keep_stored_secrets(new: SyncConfig, old: SyncConfig) -> SyncConfig:
    """PUT without a password keeps the stored one: absent or "***" secrets are taken from `old`; so are
    the "***" parts of a feed URL (a URL is always sent whole, so its absence keeps nothing)."""
    new_plain, new_secrets = split_secrets(_keep_url_secrets(new, old))
    _, old_secrets = split_secrets(old)
    old_secrets.pop(URL_KEY, None)
    merged = {path: value for path, value in new_secrets.items() if value != MASKED}
    for path, value in old_secrets.items():
        if path not in new_secrets or new_secrets[path] == MASKED:
            merged[path] = value
    return join_secrets(new_plain, {path: value for path, value in merged.items() if value != ""})


def _keep_url_secrets(new: SyncConfig, old: SyncConfig) -> SyncConfig:
    url = new.credentials.url
    if not url:
        return new
    kept, missing = keep_url_secrets(url, old.credentials.url)
    if missing:
        raise ConfigError(
            f"credentials.url: {', '.join(missing)} is shown as '{MASKED}' but the stored URL has no value "
            "to keep for it; send the real value"
        )
    return new.model_copy(update={"credentials": new.credentials.model_copy(update={"url": kept})})


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def _row_to_stored(row: asyncpg.Record, box: SecretBox) -> StoredConfig:
    try:
        config = join_secrets(row["config"], box.decrypt(row["secrets"]))
    except ValueError as exc:
        raise ConfigError(f"stored config {row['id']!r} no longer validates: {exc}") from exc
    return StoredConfig(config=config, created_at=row["created_at"], updated_at=row["updated_at"])


def _params(config: SyncConfig, box: SecretBox) -> tuple[Any, ...]:
    stored, secrets = split_secrets(config)
    return (config.id, config.name, config.enabled, config.connection_type, stored, box.encrypt(secrets))


async def list_configs(conn: Executor, box: SecretBox) -> list[StoredConfig]:
    return [_row_to_stored(row, box) for row in await conn.fetch(SELECT_CONFIGS)]


async def get_config(
    conn: Executor, box: SecretBox, config_id: str, *, for_update: bool = False
) -> StoredConfig:
    """The config; `for_update` locks its row until the transaction ends (a read-modify-write)."""
    row = await conn.fetchrow(SELECT_CONFIG + (" FOR UPDATE" if for_update else ""), config_id)
    if row is None:
        raise ConfigNotFound(config_id)
    return _row_to_stored(row, box)


async def require_config(conn: Executor, config_id: str) -> None:
    """Raise ConfigNotFound unless a config has this id (its secrets are not read)."""
    if await conn.fetchval(CONFIG_EXISTS, config_id) is None:
        raise ConfigNotFound(config_id)


async def insert_config(conn: Executor, box: SecretBox, config: SyncConfig) -> StoredConfig | None:
    """Insert a new config; None when the id is taken."""
    row = await conn.fetchrow(INSERT_CONFIG, *_params(config, box))
    if row is None:
        return None
    return StoredConfig(config=config, created_at=row["created_at"], updated_at=row["updated_at"])


async def upsert_config(conn: Executor, box: SecretBox, config: SyncConfig) -> bool:
    """Create or replace (the CLI's `configs apply`); True when it was created."""
    row = await conn.fetchrow(UPSERT_CONFIG, *_params(config, box))
    assert row is not None
    return bool(row["inserted"])


async def update_config(conn: Executor, box: SecretBox, config: SyncConfig) -> StoredConfig:
    row = await conn.fetchrow(UPDATE_CONFIG, *_params(config, box))
    if row is None:
        raise ConfigNotFound(config.id)
    return StoredConfig(config=config, created_at=row["created_at"], updated_at=row["updated_at"])


async def delete_config(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], config_id: str, *, purge: bool = False
) -> None:
    """Delete the config and its tracking rows (the shop's products stay); its runs and log lines
    are kept for their history unless `purge`."""
    async with _connection(conn) as held, held.transaction():
        status = await held.execute(DELETE_CONFIG, config_id)
        if status.endswith(" 0"):
            raise ConfigNotFound(config_id)
        if purge:
            await held.execute(PURGE_LOGS, config_id)
            await held.execute(PURGE_RUNS, config_id)


async def set_enabled(conn: Executor, config_id: str, enabled: bool) -> bool:
    """Enable or disable the config; whether it was enabled before."""
    row = await conn.fetchrow(SET_ENABLED, config_id, enabled)
    if row is None:
        raise ConfigNotFound(config_id)
    return bool(row["was_enabled"])


@asynccontextmanager
async def _connection(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any],
) -> AsyncIterator[Any]:
    """One connection, for a transaction: `conn` itself or one of the pool's."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as held:
            yield held
    else:
        yield conn


async def apply_config(conn: asyncpg.Connection[Any], box: SecretBox, config: SyncConfig) -> bool:
    """Create or replace in one transaction, keeping stored secrets the file leaves out; True if created."""
    async with conn.transaction():
        row = await conn.fetchrow(SELECT_CONFIG + " FOR UPDATE", config.id)
        if row is not None:
            config = keep_stored_secrets(config, _row_to_stored(row, box).config)
        return await upsert_config(conn, box, config)


SELECT_SECRETS_FOR_UPDATE = (
    "SELECT id, secrets FROM product_sync_configs WHERE secrets IS NOT NULL FOR UPDATE"
)
SET_SECRETS = "UPDATE product_sync_configs SET secrets = $2 WHERE id = $1"


async def rotate_secrets(conn: asyncpg.Connection[Any], box: SecretBox) -> int:
    """Re-encrypt every stored credential with the current key, in one transaction; the count rotated.

    Any key in `previous_keys` may have encrypted a row; after this, only the current one is needed."""
    async with conn.transaction():
        rows = await conn.fetch(SELECT_SECRETS_FOR_UPDATE)
        for row in rows:
            await conn.execute(SET_SECRETS, row["id"], box.rotate(row["secrets"]))
    return len(rows)
