"""`erpsync logs`: what runs had to say, from PostgreSQL, without the API; `--follow` as they come."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import orjson

from erpsync.cli_context import Context, pass_context, run
from erpsync.cli_errors import handle_errors

FOLLOW_SECONDS = 1.0


@click.command("logs")
@click.argument("config_id", required=False)
@click.option("--run", "run_id", type=click.IntRange(min=1), help="Only this run's lines.")
@click.option(
    "--level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Only lines at this level or above.",
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Lines shown first."
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@pass_context
@handle_errors
def logs_command(
    ctx: Context,
    config_id: str | None,
    *,
    run_id: int | None,
    level: str | None,
    limit: int,
    follow: bool,
    as_json: bool,
) -> None:
    """Print the latest log lines of every config or of CONFIG_ID, oldest first."""
    from erpsync.cli import storable_id
    from erpsync.db.configs import require_config
    from erpsync.db.logs import list_logs, logs_after
    from erpsync.db.pool import connect

    if config_id is not None:
        config_id = storable_id(config_id)

    async def go() -> None:
        conn = await connect(ctx.settings.database)
        try:
            lines = await list_logs(conn, config_id=config_id, min_level=level, run_id=run_id, limit=limit)
            if config_id is not None and not lines:
                await require_config(conn, config_id)
            last = 0
            for line in reversed(lines):
                click.echo(render(line, as_json=as_json))
                last = line.id
            while follow:
                await asyncio.sleep(FOLLOW_SECONDS)
                for line in await logs_after(conn, last, config_id=config_id, min_level=level, run_id=run_id):
                    click.echo(render(line, as_json=as_json))
                    last = line.id
        finally:
            await conn.close()

    try:
        run(go())
    except KeyboardInterrupt:
        return  # the way out of --follow


def render(line: Any, *, as_json: bool) -> str:
    """One log line: `2026-12-03 06:50:01 warning acme-main run 12 SKU-1: message` or a JSON object."""
    if as_json:
        return orjson.dumps(
            {
                "id": line.id,
                "created_at": line.created_at.isoformat(),
                "level": line.level,
                "config_id": line.config_id,
                "run_id": line.run_id,
                "sku": line.sku,
                "message": line.message,
                "details": line.details,
            }
        ).decode()
    parts = [line.created_at.strftime("%Y-%m-%d %H:%M:%S"), f"{line.level:<7}", line.config_id]
    if line.run_id is not None:
        parts.append(f"run {line.run_id}")
    where = f" {line.sku}" if line.sku else ""
    return f"{' '.join(parts)}{where}: {line.message}"
