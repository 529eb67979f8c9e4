"""`erpsync runs`: recent runs (`erpsync runs [CONFIG_ID]`), one run with its journal
(`erpsync runs show ID [--changes] [--json]`), read from PostgreSQL without the API; and the revert of a
run (`erpsync runs revert ID [--dry-run]`), run in the foreground like `erpsync sync`."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from erpsync.cli_context import Context, pass_context, run
from erpsync.cli_errors import EX_NOT_FOUND, EX_TEMPFAIL, EXIT_FAILED, UsageExit, fail, handle_errors

PAGE = 1000
REMOVED = {"create": "created", "delete": "deleted", "archive": "archived", "draft": "set to draft"}


class RunsGroup(UsageExit):
    """`erpsync runs [CONFIG_ID]` lists runs as it always did; `erpsync runs show ID` shows one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first not in self.commands and first not in ctx.help_option_names:
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group("runs", cls=RunsGroup)
def runs_group() -> None:
    """List recent runs (`runs [CONFIG_ID]`), show one run and what it did (`runs show ID`), or revert
    one (`runs revert ID`)."""


@runs_group.command("list")
@click.argument("config_id", required=False)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@handle_errors
def list_command(ctx: Context, config_id: str | None, limit: int, as_json: bool) -> None:
    """List recent runs, of every config or of CONFIG_ID (the default of `erpsync runs`)."""
    from erpsync.cli import storable_id, with_store
    from erpsync.db.configs import require_config
    from erpsync.db.runs import list_runs

    async def find(conn: Any, box: Any) -> list[Any]:
        found = await list_runs(conn, config_id and storable_id(config_id), limit=limit)
        if config_id is not None and not found:
            await require_config(conn, config_id)
        return found

    runs = with_store(ctx, find)
    if as_json:
        click.echo(orjson.dumps([item.as_json() for item in runs], option=orjson.OPT_INDENT_2).decode())
        return
    if not runs:
        click.echo("no runs")
        return
    click.echo(f"{'RUN':>6} {'CONFIG':<20} {'STATUS':<16} {'STARTED':<20} SUMMARY")
    for item in runs:
        started = item.started_at.strftime("%Y-%m-%d %H:%M:%S") if item.started_at else "-"
        click.echo(f"{item.id:>6} {item.config_id:<20} {item.status:<16} {started:<20} {summary(item)}")


def summary(item: Any) -> str:
    counts = item.counts
    text = " ".join(
        f"{key}={counts[key]}"
        for key in ("created", "updated", "deleted", "failed", "rows_rejected")
        if counts.get(key)
    )
    return text or item.error or ""


@runs_group.command("show")
@click.argument("run_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--changes", "with_changes", is_flag=True, help="Also what the run did to each product.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@handle_errors
def show_command(ctx: Context, run_id: int, with_changes: bool, as_json: bool) -> None:
    """Show run RUN_ID: status, times, counts, reason; with --changes one line per product it wrote or
    removed (action, SKU, fields before → after, result)."""
    from erpsync.cli import with_store
    from erpsync.db.changes import Change, run_changes
    from erpsync.db.runs import get_run

    async def find(conn: Any, box: Any) -> tuple[Any, list[Change]]:
        found = await get_run(conn, run_id)
        changes: list[Change] = []
        while found is not None and with_changes:
            page = await run_changes(conn, run_id, after=changes[-1].id if changes else 0, limit=PAGE)
            changes += page
            if len(page) < PAGE:
                break
        return found, changes

    item, changes = with_store(ctx, find)
    if item is None:
        fail(f"no run with id {run_id}", status=EX_NOT_FOUND)
    if as_json:
        body: Any = item.as_json()
        if with_changes:
            body = {"run": body, "changes": [change.as_json() for change in changes]}
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    for line in describe_run(item):
        click.echo(line)
    if with_changes:
        click.echo(f"changes ({len(changes)}; unchanged products are only counted):")
        for change in changes:
            click.echo(describe_change(change))


def describe_run(item: Any) -> list[str]:
    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value is not None else "-"

    counts = item.counts
    shown = ("created", "updated", "deleted", "unchanged", "failed", "unknown", "retried", "rows_rejected")
    lines = [
        f"run {item.id} of {item.config_id}: {item.status}" + (" (dry run)" if item.dry_run else ""),
        f"trigger: {item.trigger}" + (f" (of run {item.reverts_run_id})" if item.reverts_run_id else ""),
        f"queued: {when(item.queued_at)}  started: {when(item.started_at)}  finished: {when(item.finished_at)}",
        "counts: " + (" ".join(f"{key}={counts[key]}" for key in shown if key in counts) or "-"),
    ]
    if item.error:
        lines.append(f"reason: {item.error}")
    return lines


def describe_change(change: Any) -> str:
    """`update  SKU-1  ok  variants[SKU-1].price: 10.00 → 12.50`, and where its last result line was."""
    skus = change.skus or [change.product_key]
    sku = skus[0] + (f" (+{len(skus) - 1})" if len(skus) > 1 else "")
    if change.changes:
        what = "; ".join(
            f"{item['field']}: {_value(item.get('before'))} → {_value(item.get('after'))}"
            for item in change.changes
        )
    else:
        what = REMOVED.get(change.action, "")
    result = change.result + (f" after {change.attempts} attempts" if change.attempts > 1 else "")
    line = f"{change.action:<8} {sku:<24} {result:<10} {what}".rstrip()
    if change.message:
        line += f" — {change.message}"
    if change.bulk_operation_id:
        line += f"  [{change.bulk_operation_id} line {change.line_number}]"
    return line


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# How a refused revert ends: the exit statuses of the README's table.
REFUSED_EXIT = {"not_found": EX_NOT_FOUND, "run_not_finished": EX_TEMPFAIL}


@runs_group.command("revert")
@click.argument("run_id", type=click.IntRange(1, 2**63 - 1))
@click.option(
    "--dry-run", is_flag=True, help="Print what the revert would do and leave alone; write nothing."
)
@click.option("--allow-mass-delete", is_flag=True, help="Let this revert remove past max_delete_fraction.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
@handle_errors
def revert_command(ctx: Context, run_id: int, dry_run: bool, allow_mass_delete: bool, as_json: bool) -> None:
    """Revert run RUN_ID: put back what it changed, as a run of its config (trigger `revert`), in the
    foreground. Products changed since by a later run, or in the shop, are left alone and named.

    \b
    Exit status: as `erpsync sync` (0 reverted, or a dry run; 1 failed; 2 removals held back by the
    guard; 3 partial); 66 no such run, or its config is gone; 75 the run has not finished, or the
    config is syncing now; 1 a dry run, a run already reverted, or one that wrote nothing.
    """
    import asyncpg

    from erpsync.cli_sync import EXIT_STATUS, close_pool, render_result
    from erpsync.db.pool import create_pool
    from erpsync.revert import RevertRefused, check_revertible
    from erpsync.sync import run_sync

    settings = ctx.settings

    async def go() -> Any:
        pool = await create_pool(settings.database, reachable=True)
        try:
            target = await check_revertible(pool, run_id)
            try:
                return await run_sync(
                    settings, pool, target.config_id, trigger="revert", dry_run=dry_run,
                    allow_mass_delete=allow_mass_delete, reverts_run_id=run_id,
                )  # fmt: skip
            except asyncpg.UniqueViolationError:  # the config has a run queued: one queued run at a time
                raise RevertRefused(
                    f"config {target.config_id!r} has a run queued: revert run {run_id} once it ran",
                    code="run_not_finished",
                ) from None
        finally:
            await close_pool(pool)

    try:
        result = run(go())
    except RevertRefused as exc:
        fail(str(exc), status=REFUSED_EXIT.get(exc.code, EXIT_FAILED))
    if as_json:
        body = {
            "run_id": result.run_id,
            "reverts_run_id": run_id,
            "status": result.status,
            "counts": result.counts,
            "plan": result.plan,
            "error": result.error,
            "details": result.details,
        }
        click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(f"revert of run {run_id}" + (" (dry run: nothing written)" if dry_run else ""))
        click.echo(render_result(result))
        for line in describe_skips(result.counts):
            click.echo(line)
    sys.exit(EXIT_STATUS.get(result.status, EXIT_FAILED))


def describe_skips(counts: dict[str, Any]) -> list[str]:
    """`  not reverted (2):` then one line per product left alone, with why."""
    total = int(counts.get("revert_skipped") or 0)
    if not total:
        return []
    lines = [f"  not reverted ({total:,}):"]
    for skip in counts.get("revert_skips", []):
        skus = f" (SKU {', '.join(skip['skus'])})" if skip["skus"] else ""
        lines.append(f"    {skip['product_key']}{skus}: {skip['reason']}")
    if total > len(counts.get("revert_skips", [])):
        lines.append(f"    ... and {total - len(counts['revert_skips']):,} more (in the run's logs)")
    return lines
