"""What every `erpsync` command shares: settings loaded on first use, and how its coroutine is run."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from erpsync.logs import configure_logging, register_secret, url_secrets
from erpsync.settings import Settings, load_settings

T = TypeVar("T")


class Context:
    """Settings are loaded on first use, so `--help` works without a settings file."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
            register_settings_secrets(self._settings)
            configure_logging(
                log_format=self._settings.log.format, level=self._settings.log.level, stream=sys.stderr
            )
        return self._settings


def register_settings_secrets(settings: Settings) -> None:
    """Every secret in the settings is masked in every log line from now on."""
    for secret in (
        settings.api.token,
        settings.shopify.access_token,
        settings.shopify.client_secret,
        settings.security.secret_key,
        settings.ftp.password,
        *settings.security.previous_keys,
    ):
        register_secret(secret)
    for url in (settings.database.url, settings.redis.url):
        for value in url_secrets(url):  # a password, or a `?password=` query value
            register_secret(value)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, closing the shared Shopify sessions it opened: none unless it imported
    the Shopify client, which a command (an `unchanged` sync) may never need."""

    async def main() -> T:
        asyncio.get_running_loop().set_exception_handler(quiet_lost_connections)
        try:
            return await coro
        finally:
            client = sys.modules.get("erpsync.shopify.client")
            if client is not None:
                await client.close_shared_sessions()

    return asyncio.run(main())


def quiet_lost_connections(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A background task left failing by a lost connection (asyncpg releasing a pooled connection after
    PostgreSQL went away) is logged at debug level: the command has said once, in one line, what was lost;
    a traceback from asyncio's default handler would only bury it. Anything else goes to that handler."""
    exc = context.get("exception")
    if isinstance(exc, ConnectionError) or type(exc).__module__.startswith("asyncpg"):
        from erpsync.logs import get_logger

        get_logger("erpsync.cli").debug("a background task ended on a lost connection", error=str(exc))
        return
    loop.default_exception_handler(context)


pass_context = click.make_pass_decorator(Context)
