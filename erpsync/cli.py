"""The `erpsync` command. Every failure it foresees ends as one line on stderr and a non-zero status."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

from erpsync import __version__
from erpsync.cli_context import Context, pass_context, run
from erpsync.cli_errors import (
    EX_CONFIG,
    UsageExit,
    exit_statuses_help,
    fail,
    handle_errors,
)
from erpsync.constants import RunStatus
from erpsync.logs import register_secret, scrub

if TYPE_CHECKING:
    from erpsync.models import SyncConfig
    from erpsync.sources.policy import SourcePolicy

T = TypeVar("T")


def _simulator_command() -> click.Command:
    """The simulator's own command where its distribution is installed (the `demo` and `dev`
    extras), else one that says how to install it: production installs leave it out."""
    try:
        from shopify_simulator.command import simulator_command
    except ImportError:

        @click.command("simulator", context_settings={"ignore_unknown_options": True})
        @click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
        def missing(arguments: tuple[str, ...]) -> None:
            """Run a Shopify Admin API simulator (needs the `demo` extra)."""
            raise click.ClickException(SIMULATOR_MISSING)

        return missing
    return simulator_command


def _configs_command() -> click.Command:
    from erpsync.cli_configs import configs

    return configs


def _logs_command() -> click.Command:
    from erpsync.cli_logs import logs_command

    return logs_command


def _preview_command() -> click.Command:
    from erpsync.preview import make_preview_command

    return make_preview_command(load_stored_config)


def _sync_command() -> click.Command:
    from erpsync.cli_sync import sync_command

    return sync_command


def _reconcile_command() -> click.Command:
    from erpsync.cli_sync import reconcile_command

    return reconcile_command


# Commands that live beside the subsystem they drive, imported only when named (or listed by --help):
# `erpsync sync` starts its run without importing the preview, the simulator or the configs commands.
def _runs_command() -> click.Command:
    from erpsync.cli_runs import runs_group

    return runs_group


LAZY_COMMANDS: dict[str, Callable[[], click.Command]] = {
    "configs": _configs_command,
    "logs": _logs_command,
    "preview": _preview_command,
    "reconcile": _reconcile_command,
    "runs": _runs_command,
    "simulator": _simulator_command,
    "sync": _sync_command,
}


class LazyGroup(UsageExit):
    """The `erpsync` group: LAZY_COMMANDS are added the first time they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(LAZY_COMMANDS[cmd_name](), name=cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_statuses_help()
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file (default: $ERPSYNC_CONFIG, ./erpsync.toml, /etc/erpsync/erpsync.toml).",
)
@click.version_option(__version__, prog_name="erpsync")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """Keep a Shopify catalogue in step with an ERP product feed."""
    ctx.obj = Context(config_file)


@main.command()
@click.option("--no-api", is_flag=True, help="Do not serve the HTTP API.")
@click.option("--no-scheduler", is_flag=True, help="Do not schedule syncs.")
@click.option("--no-worker", is_flag=True, help="Do not run syncs from the queue.")
@pass_context
@handle_errors
def serve(ctx: Context, no_api: bool, no_scheduler: bool, no_worker: bool) -> None:
    """Run the daemon: API, scheduler and worker in one process."""
    from erpsync.daemon import run_daemon

    settings = ctx.settings
    run(
        run_daemon(
            settings,
            api=not no_api,
            scheduler=not no_scheduler,
            worker=not no_worker,
            config_file=ctx.config_file,
        )
    )


@main.command()
@pass_context
@handle_errors
def migrate(ctx: Context) -> None:
    """Apply pending database migrations (safe to run twice, or twice at once)."""
    from erpsync.db.migrate import apply_migrations
    from erpsync.db.pool import connect, describe_dsn

    async def go() -> list[str]:
        conn = await connect(ctx.settings.database)
        try:
            return await apply_migrations(conn)
        finally:
            await conn.close()

    applied = run(go())
    target = describe_dsn(ctx.settings.database.url)
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
        click.echo(f"{target}: {len(applied)} migration(s) applied")
    else:
        click.echo(f"{target}: up to date")


@main.command()
@pass_context
@handle_errors
def check(ctx: Context) -> None:
    """Check settings and connectivity; one line each; exit status 0 only if all is well."""
    from erpsync.checks import run_checks

    results = run(run_checks(ctx.settings, ctx.config_file))
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        click.echo(f"{mark} {result.name}: {scrub(result.detail)}")
    if not all(result.ok for result in results):
        sys.exit(1)


@main.command("rotate-key")
@pass_context
@handle_errors
def rotate_key(ctx: Context) -> None:
    """Re-encrypt stored credentials with [security] secret_key (old keys listed in previous_keys)."""
    from erpsync.db.configs import rotate_secrets

    if ctx.settings.security.secret_key is None:
        fail("set [security] secret_key to the new key, and the old one in previous_keys", status=EX_CONFIG)
    count = with_store(ctx, rotate_secrets)
    click.echo(
        f"re-encrypted the credentials of {count} config(s) with the current key; "
        "previous_keys can now be emptied"
    )


def storable_id(config_id: str) -> str:
    """`config_id`, or ConfigNotFound for text PostgreSQL cannot hold (a NUL, bytes that are not
    UTF-8): no stored config has such an id."""
    from erpsync.api.text import text_problem
    from erpsync.errors import ConfigNotFound

    if text_problem(config_id):
        raise ConfigNotFound(config_id)
    return config_id


def with_store(ctx: Context, action: Callable[..., Awaitable[T]]) -> T:
    """Run `action(conn, box)` on one connection."""
    from erpsync.crypto import SecretBox
    from erpsync.db.pool import connect

    async def go() -> T:
        settings = ctx.settings
        box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
        conn = await connect(settings.database)
        try:
            return await action(conn, box)
        finally:
            await conn.close()

    return run(go())


async def load_stored_config(config_id: str) -> tuple[SyncConfig, SourcePolicy]:
    """A config from PostgreSQL and the source policy a sync of it runs under, for `erpsync preview ID`
    (settings from the command line's context): a preview reads only what the sync would."""
    from erpsync.api.text import text_problem
    from erpsync.crypto import SecretBox
    from erpsync.db.configs import get_config
    from erpsync.db.pool import connect
    from erpsync.errors import ConfigNotFound
    from erpsync.models import secret_paths
    from erpsync.sources.policy import SourcePolicy

    if text_problem(config_id):  # text PostgreSQL cannot hold names no stored config
        raise ConfigNotFound(config_id)
    context = click.get_current_context().find_object(Context)
    assert context is not None
    settings = context.settings
    conn = await connect(settings.database)
    try:
        box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
        config = (await get_config(conn, box, config_id)).config
    finally:
        await conn.close()
    for secret in secret_paths(config):
        register_secret(secret)
    return config, SourcePolicy.of(settings.sync)


SIMULATOR_MISSING = (
    "the Shopify simulator is not installed: pip install 'erpsync[demo]' "
    "(from a checkout: pip install -e ./shopify-simulator)"
)


@main.command("demo")
@click.option("--products", default=300, show_default=True, type=click.IntRange(10, 100_000))
@pass_context
@handle_errors
def demo_command(ctx: Context, products: int) -> None:
    """Simulator + local FTP + sample feed: one full sync, a changed feed, a second sync."""
    try:
        from erpsync.demo import run_demo
    except ImportError as error:
        if (error.name or "").split(".")[0] != "shopify_simulator":
            raise
        raise click.ClickException(SIMULATOR_MISSING) from None

    report = run(run_demo(ctx.settings, products=products, say=click.echo))
    if report.second.status != RunStatus.SUCCEEDED:
        sys.exit(1)
