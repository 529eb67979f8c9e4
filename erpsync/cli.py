"""The `erpsync` command. Every failure it foresees ends as one line on stderr and a non-zero status."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import orjson
from pydantic import ValidationError

from erpsync import __version__
from erpsync.errors import ErpsyncError
from erpsync.logs import configure_logging, register_secret, scrub
from erpsync.settings import Settings, load_settings

if TYPE_CHECKING:
    from erpsync.models import SyncConfig
    from erpsync.sources.policy import SourcePolicy

P = ParamSpec("P")
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
    from urllib.parse import urlsplit

    for url in (settings.database.url, settings.redis.url):
        register_secret(urlsplit(url).password)


def fail(message: str) -> None:
    click.echo(f"erpsync: {scrub(message)}", err=True)
    sys.exit(1)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Foreseen errors become one line on stderr, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except ErpsyncError as exc:
            fail(str(exc))
        except ValidationError as exc:
            from erpsync.api.problems import validation_details

            problems = "; ".join(f"{item['field']}: {item['message']}" for item in validation_details(exc))
            fail(f"invalid sync config: {problems}")
        except KeyboardInterrupt:
            fail("interrupted")
        raise AssertionError("unreachable")

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, closing the shared Shopify sessions it opened."""
    from erpsync.shopify.client import close_shared_sessions

    async def main() -> T:
        try:
            return await coro
        finally:
            await close_shared_sessions()

    return asyncio.run(main())


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
        fail("set [security] secret_key to the new key, and the old one in previous_keys")
    count = with_store(ctx, rotate_secrets)
    click.echo(
        f"re-encrypted the credentials of {count} config(s) with the current key; "
        "previous_keys can now be emptied"
    )


@main.group()
def configs() -> None:
    """Manage sync configs (directly in PostgreSQL)."""


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


@configs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@handle_errors
def configs_list(ctx: Context, as_json: bool) -> None:
    """List sync configs."""
    from erpsync.api.views import stored_view
    from erpsync.db.configs import list_configs

    stored = with_store(ctx, list_configs)
    if as_json:
        click.echo(orjson.dumps([stored_view(item) for item in stored], option=orjson.OPT_INDENT_2).decode())
        return
    if not stored:
        click.echo("no sync configs")
        return
    click.echo(f"{'ID':<24} {'ENABLED':<8} {'SOURCE':<7} {'EVERY':<10} NAME")
    for item in stored:
        config = item.config
        every = config.schedule or f"{config.sync_frequency:g}h"
        click.echo(
            f"{config.id:<24} {config.enabled!s:<8} {config.connection_type:<7} {every:<10} {config.name}"
        )


@configs.command("show")
@click.argument("config_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the default; kept for symmetry).")
@pass_context
@handle_errors
def configs_show(ctx: Context, config_id: str, as_json: bool) -> None:
    """Show one sync config, secrets masked."""
    from erpsync.api.views import stored_view
    from erpsync.db.configs import get_config

    stored = with_store(ctx, lambda conn, box: get_config(conn, box, config_id))
    click.echo(orjson.dumps(stored_view(stored), option=orjson.OPT_INDENT_2).decode())


@configs.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@handle_errors
def configs_apply(ctx: Context, file: Path) -> None:
    """Create or replace the sync config in a JSON FILE (absent or "***" secrets keep their stored value)."""
    from erpsync.db.configs import apply_config
    from erpsync.models import SyncConfig

    try:
        data = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not valid JSON: {exc}")
    try:
        config = SyncConfig.model_validate(data)
    except ValidationError as exc:
        from erpsync.api.problems import validation_details

        problems = "; ".join(f"{item['field']}: {item['message']}" for item in validation_details(exc))
        fail(f"{file} is not a valid sync config: {problems}")
    created = with_store(ctx, lambda conn, box: apply_config(conn, box, config))
    click.echo(f"{'created' if created else 'updated'} sync config {config.id!r}")


@configs.command("delete")
@click.argument("config_id")
@pass_context
@handle_errors
def configs_delete(ctx: Context, config_id: str) -> None:
    """Delete a sync config and its tracking rows (the Shopify products stay)."""
    from erpsync.db.configs import delete_config

    with_store(ctx, lambda conn, box: delete_config(conn, config_id))
    click.echo(f"deleted sync config {config_id!r}")


async def load_stored_config(config_id: str) -> tuple[SyncConfig, SourcePolicy]:
    """A config from PostgreSQL and the source policy a sync of it runs under, for `erpsync preview ID`
    (settings from the command line's context): a preview reads only what the sync would."""
    from erpsync.crypto import SecretBox
    from erpsync.db.configs import get_config
    from erpsync.db.pool import connect
    from erpsync.sources.policy import SourcePolicy

    context = click.get_current_context().find_object(Context)
    assert context is not None
    settings = context.settings
    conn = await connect(settings.database)
    try:
        box = SecretBox(settings.security.secret_key, settings.security.previous_keys)
        config = (await get_config(conn, box, config_id)).config
    finally:
        await conn.close()
    return config, SourcePolicy.of(settings.sync)


def _register_subcommands() -> None:
    """Commands that live beside the subsystem they drive."""
    from erpsync.preview import make_preview_command
    from erpsync.simulator.command import simulator_command

    main.add_command(simulator_command, name="simulator")
    main.add_command(make_preview_command(load_stored_config), name="preview")


_register_subcommands()


EXIT_STATUS = {"succeeded": 0, "dry_run": 0, "failed": 1, "needs_attention": 2, "partial": 3}


@main.command("sync")
@click.argument("config_id")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing anywhere.")
@click.option("--allow-mass-delete", is_flag=True, help="Let this one run delete past max_delete_fraction.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
@handle_errors
def sync_command(ctx: Context, config_id: str, dry_run: bool, allow_mass_delete: bool, as_json: bool) -> None:
    """Run one sync of CONFIG_ID in the foreground; the exit status says how it ended."""
    from erpsync.db.pool import create_pool
    from erpsync.sync import run_sync

    settings = ctx.settings
    interactive = sys.stdout.isatty() and not as_json

    async def show_progress(values: dict[str, Any]) -> None:
        if interactive:
            click.echo(f"\r\x1b[2K{progress_line(values)}", nl=False)

    async def go() -> Any:
        pool = await create_pool(settings.database)
        try:
            return await run_sync(
                settings,
                pool,
                config_id,
                trigger="cli",
                dry_run=dry_run,
                allow_mass_delete=allow_mass_delete,
                on_progress=show_progress,
            )
        finally:
            await pool.close()

    result = run(go())
    if interactive:
        click.echo()
    if as_json:
        click.echo(
            orjson.dumps(
                {
                    "run_id": result.run_id,
                    "status": result.status,
                    "counts": result.counts,
                    "plan": result.plan,
                    "error": result.error,
                    "details": result.details,
                },
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
    else:
        click.echo(render_result(result))
    sys.exit(EXIT_STATUS.get(result.status, 1))


BAR_WIDTH = 30


def progress_line(values: dict[str, Any]) -> str:
    """One terminal line: a bar while bulk lines are recorded, counters while the feed is read."""
    total = int(values.get("bulk_lines_total") or 0)
    if total:
        done = int(values.get("bulk_lines_done") or 0)
        filled = BAR_WIDTH * done // total
        return f"publishing [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,} bulk lines"
    parts = []
    if "rows_read" in values:
        parts.append(f"rows read {values['rows_read']:,}")
    if "products_mapped" in values:
        parts.append(f"products {values['products_mapped']:,}")
    if "products_planned" in values:
        parts.append(f"planned {values['products_planned']:,}")
    return "  ".join(parts)


def render_result(result: Any) -> str:
    """A plain summary of a run, as an operator reads it in a terminal or a cron mail."""
    counts = result.counts
    lines = [f"run {result.run_id}: {result.status}"]
    if result.error:
        lines.append(f"  reason: {result.error}")
    if result.status == "dry_run" and result.plan:
        plan = result.plan
        lines.append(
            "  plan: " + ", ".join(f"{key} {value}" for key, value in plan.items() if isinstance(value, int))
        )
        for action, items in (result.details or {}).get("products", {}).items():
            shown = ", ".join(item["product_key"] for item in items[:10])
            more = f" (+{len(items) - 10} more)" if len(items) > 10 else ""
            lines.append(f"  {action}: {shown}{more}")
        for update in (result.details or {}).get("updates", [])[:10]:
            for change in update["changes"][:5]:
                lines.append(
                    f"    {update['product_key']} {change['field']}: {change['before']!r} -> {change['after']!r}"
                )
        return "\n".join(lines)
    keys = (
        "rows_read",
        "rows_rejected",
        "products",
        "created",
        "updated",
        "unchanged",
        "deleted",
        "failed",
        "unknown",
        "adopted",
        "bulk_operations",
        "shopify_cost",
        "feed_bytes",
    )
    lines.append(
        "  "
        + ", ".join(
            f"{key.replace('_', ' ')} {counts[key]:,}"
            for key in keys
            if isinstance(counts.get(key), int | float)
        )
    )
    if counts.get("seconds"):
        lines.append(
            "  seconds: "
            + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in counts["seconds"].items())
        )
    return "\n".join(lines)


@main.command("runs")
@click.argument("config_id", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@handle_errors
def runs_command(ctx: Context, config_id: str | None, limit: int, as_json: bool) -> None:
    """List recent runs, of every config or of CONFIG_ID."""
    from erpsync.db.runs import list_runs

    runs = with_store(ctx, lambda conn, box: list_runs(conn, config_id, limit=limit))
    if as_json:
        click.echo(orjson.dumps([item.as_json() for item in runs], option=orjson.OPT_INDENT_2).decode())
        return
    if not runs:
        click.echo("no runs")
        return
    click.echo(f"{'RUN':>6} {'CONFIG':<20} {'STATUS':<16} {'STARTED':<20} SUMMARY")
    for item in runs:
        started = item.started_at.strftime("%Y-%m-%d %H:%M:%S") if item.started_at else "-"
        counts = item.counts
        summary = " ".join(
            f"{key}={counts[key]}" for key in ("created", "updated", "deleted", "failed") if counts.get(key)
        )
        click.echo(
            f"{item.id:>6} {item.config_id:<20} {item.status:<16} {started:<20} {summary or item.error or ''}"
        )


@main.command("demo")
@click.option("--products", default=300, show_default=True, type=click.IntRange(10, 100_000))
@pass_context
@handle_errors
def demo_command(ctx: Context, products: int) -> None:
    """Simulator + local FTP + sample feed: one full sync, a changed feed, a second sync."""
    from erpsync.demo import run_demo

    report = run(run_demo(ctx.settings, products=products, say=click.echo))
    if report.second.status != "succeeded":
        sys.exit(1)
