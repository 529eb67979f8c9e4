"""`erpsync configs …`: sync configs in PostgreSQL, as files an operator keeps and applies again.

`show` prints what `apply` takes back unchanged: the read-only fields (`created_at`, `updated_at`)
are ignored on the way in and masked secrets (`"***"`) keep their stored value, so
`configs show X > x.json && configs apply x.json` is a no-op and an edited copy changes only what
was edited. `apply -` reads standard input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson
from pydantic import ValidationError

from erpsync.cli import storable_id, with_store
from erpsync.cli_context import Context, pass_context
from erpsync.cli_errors import EX_DATAERR, config_problems, fail, handle_errors


@click.group()
def configs() -> None:
    """Manage sync configs (directly in PostgreSQL)."""


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
    """Show one sync config, secrets masked: `configs apply` takes the output back unchanged."""
    from erpsync.api.views import stored_view
    from erpsync.db.configs import get_config

    stored = with_store(ctx, lambda conn, box: get_config(conn, box, storable_id(config_id)))
    click.echo(orjson.dumps(stored_view(stored), option=orjson.OPT_INDENT_2).decode())


@configs.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_context
@handle_errors
def configs_apply(ctx: Context, file: Path) -> None:
    """Create or replace the sync config in a JSON FILE, or standard input for `-` (absent or "***"
    secrets keep their stored value; created_at and updated_at are ignored)."""
    from erpsync.api.text import problem_path
    from erpsync.api.views import without_read_only
    from erpsync.db.configs import apply_config
    from erpsync.models import SyncConfig

    name = "standard input" if str(file) == "-" else str(file)
    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror}", status=EX_DATAERR)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc}", status=EX_DATAERR)
    if not isinstance(data, dict):
        fail(f"{name} is not a valid sync config: a JSON object is expected", status=EX_DATAERR)
    data = without_read_only(data)
    unstorable = problem_path(data)  # PostgreSQL would refuse it: say which field, before connecting
    if unstorable:
        fail(f"{name} is not a valid sync config: {unstorable[0]}: {unstorable[1]}", status=EX_DATAERR)
    try:
        config = SyncConfig.model_validate(data)
    except ValidationError as exc:
        fail(f"{name} is not a valid sync config: {config_problems(exc)}", status=EX_DATAERR)
    created = with_store(ctx, lambda conn, box: apply_config(conn, box, config))
    click.echo(f"{'created' if created else 'updated'} sync config {config.id!r}")


@configs.command("enable")
@click.argument("config_id")
@pass_context
@handle_errors
def configs_enable(ctx: Context, config_id: str) -> None:
    """Let the scheduler run CONFIG_ID again ([sync] first_run says whether at once)."""
    _set_enabled(ctx, config_id, True)


@configs.command("disable")
@click.argument("config_id")
@pass_context
@handle_errors
def configs_disable(ctx: Context, config_id: str) -> None:
    """Stop scheduling CONFIG_ID (a run already queued or running goes on); nothing else changes."""
    _set_enabled(ctx, config_id, False)


def _set_enabled(ctx: Context, config_id: str, enabled: bool) -> None:
    from erpsync.db.configs import set_enabled

    was = with_store(ctx, lambda conn, box: set_enabled(conn, storable_id(config_id), enabled))
    state = "enabled" if enabled else "disabled"
    click.echo(f"sync config {config_id!r} {'was already ' if was == enabled else ''}{state}")


@configs.command("delete")
@click.argument("config_id")
@click.option("--purge", is_flag=True, help="Delete its runs and log lines too.")
@pass_context
@handle_errors
def configs_delete(ctx: Context, config_id: str, purge: bool) -> None:
    """Delete a sync config and its tracking rows (the Shopify products stay); its runs and log
    lines are kept for their history (pruned after [sync] journal_days) unless --purge."""
    from erpsync.db.configs import delete_config

    with_store(ctx, lambda conn, box: delete_config(conn, storable_id(config_id), purge=purge))
    kept = "its runs and log lines deleted too" if purge else "its runs and log lines are kept"
    click.echo(f"deleted sync config {config_id!r}; {kept}")
