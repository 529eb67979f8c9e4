"""At a worker's start: finish every run a dead process left `running`, skipping those a live one holds."""

from __future__ import annotations

from typing import Any

import asyncpg

from erpsync.crypto import SecretBox
from erpsync.db import configs as config_store
from erpsync.db import runs as run_store
from erpsync.errors import ErpsyncError
from erpsync.locks import SyncBusy, config_lock
from erpsync.logs import get_logger, register_secret
from erpsync.models import secret_paths
from erpsync.settings import Settings
from erpsync.shopify.client import ClientFactory, default_client
from erpsync.sync import resume_interrupted

log = get_logger("erpsync.resume")


async def resume_abandoned_runs(
    settings: Settings, pool: asyncpg.Pool[Any], *, client_factory: ClientFactory | None = None
) -> list[int]:
    """At a worker's start: finish every run a dead process left `running` (skipping live ones)."""
    box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
    make_client = client_factory or default_client(settings)
    resumed: list[int] = []
    for config_id in await run_store.configs_with_running_runs(pool):
        try:
            async with config_lock(pool, config_id) as conn:
                config = (await config_store.get_config(conn, box, config_id)).config
                for secret in secret_paths(config):
                    register_secret(secret)
                result = await resume_interrupted(settings, pool, conn, config, make_client)
        except SyncBusy:
            continue  # a live process holds it
        except ErpsyncError as exc:
            log.error("could not resume an abandoned run", config_id=config_id, error=str(exc))
            continue
        if result is not None:
            resumed.append(result.run_id)
    return resumed
