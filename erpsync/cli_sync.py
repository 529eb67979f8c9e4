"""`erpsync sync ID`: one run in the foreground, its progress on a terminal, its summary, its exit status."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO, cast

import click
import orjson

from erpsync.cli_context import Context, pass_context, run
from erpsync.cli_errors import (
    DATABASE_LOST_EXIT,
    EXIT_FAILED,
    EXIT_NEEDS_ATTENTION,
    EXIT_PARTIAL,
    fail,
    handle_errors,
    lost_connection,
)
from erpsync.constants import RunStatus
from erpsync.logs import configure_logging

# Listed in the command's help: keep both in step.
EXIT_STATUS: dict[str, int] = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.UNCHANGED: 0,
    RunStatus.DRY_RUN: 0,
    RunStatus.FAILED: EXIT_FAILED,
    RunStatus.NEEDS_ATTENTION: EXIT_NEEDS_ATTENTION,
    RunStatus.PARTIAL: EXIT_PARTIAL,
}
SHOWN_REJECTED = 10  # rejected products printed; the JSON result and the logs hold the rest


@click.command("sync")
@click.argument("config_id")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing anywhere.")
@click.option("--allow-mass-delete", is_flag=True, help="Let this one run delete past max_delete_fraction.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
@handle_errors
def sync_command(ctx: Context, config_id: str, dry_run: bool, allow_mass_delete: bool, as_json: bool) -> None:
    """Run one sync of CONFIG_ID in the foreground; the exit status says how it ended.

    \b
    Exit status:
       0  succeeded: every row of the feed is in the shop as the feed says (or a dry run);
          or unchanged: the feed is the one last synced, nothing was parsed or sent
       1  failed: nothing was written or deleted (the feed could not be read, every row
          was rejected or it gave no product), or publishing failed; the reason is printed
       2  needs attention: deletes were held back by the guard (--allow-mass-delete)
       3  partial: rows were rejected, or products failed or conflict; each is named
      64  usage error
      66  no sync config with that id
      69  PostgreSQL cannot be reached: nothing was started
      75  the config is syncing elsewhere; or PostgreSQL was lost mid-run: the run is
          kept, and the next `erpsync sync CONFIG_ID` resumes it
      78  a bad setting
    """
    run_in_foreground(ctx, config_id, dry_run=dry_run, allow_mass_delete=allow_mass_delete, as_json=as_json)


@click.command("reconcile")
@click.argument("config_id")
@click.option("--dry-run", is_flag=True, help="Read the shop and print what would be done; write nothing.")
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Settle products missing from the shop past max_delete_fraction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
@handle_errors
def reconcile_command(
    ctx: Context, config_id: str, dry_run: bool, allow_mass_delete: bool, as_json: bool
) -> None:
    """Read the whole shop once (one bulk export), settle what the drift check cannot see, then run
    as an ordinary sync of CONFIG_ID; the exit status is that of `erpsync sync`."""
    run_in_foreground(
        ctx, config_id, dry_run=dry_run, allow_mass_delete=allow_mass_delete, as_json=as_json, reconcile=True
    )


def run_in_foreground(
    ctx: Context,
    config_id: str,
    *,
    dry_run: bool,
    allow_mass_delete: bool,
    as_json: bool,
    reconcile: bool = False,
) -> None:
    """One run with its progress on a terminal, then its summary and exit status."""
    from erpsync.cli import storable_id
    from erpsync.db.pool import create_pool
    from erpsync.sync import run_sync

    settings = ctx.settings
    config_id = storable_id(config_id)
    interactive = sys.stdout.isatty() and not as_json
    bar = ProgressLine(sys.stdout)
    if interactive:
        # Log lines (stderr) clear the bar first and draw it again after, instead of gluing onto it.
        configure_logging(
            log_format=settings.log.format,
            level=settings.log.level,
            stream=cast(TextIO, BesideProgress(sys.stderr, bar)),
        )

    async def show_progress(values: dict[str, Any]) -> None:
        if interactive:
            bar.show(progress_line(values))

    opened = False

    async def go() -> Any:
        nonlocal opened
        pool = await create_pool(settings.database, reachable=True)
        opened = True  # PostgreSQL answered: from here a lost connection keeps a run
        try:
            return await run_sync(
                settings,
                pool,
                config_id,
                trigger="cli",
                dry_run=dry_run,
                allow_mass_delete=allow_mass_delete,
                on_progress=show_progress,
                reconcile=reconcile,
            )
        finally:
            await close_pool(pool)

    try:
        result = run(go())
    except Exception as exc:
        cause = lost_connection(exc)
        if cause is None or not opened:
            raise
        fail(
            f"lost PostgreSQL while syncing {config_id!r} ({cause}); the run is kept: run "
            f"'erpsync sync {config_id}' again once PostgreSQL is back and it picks up where this one stopped",
            status=DATABASE_LOST_EXIT,
        )
    if interactive:
        bar.clear()
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
    sys.exit(EXIT_STATUS.get(result.status, EXIT_FAILED))


async def close_pool(pool: Any) -> None:
    """Close the pool; one whose connections PostgreSQL cut is terminated instead (closing would raise)."""
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except Exception:  # any failure to close politely: the process is ending either way
        pool.terminate()


BAR_WIDTH = 30


class ProgressLine:
    """The one line a terminal shows a run's progress on, drawn again in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.text = ""

    def show(self, text: str) -> None:
        self.text = text
        self.out.write(f"\r\x1b[2K{text}")
        self.out.flush()

    def hide(self) -> None:
        if self.text:
            self.out.write("\r\x1b[2K")
            self.out.flush()

    def redraw(self) -> None:
        if self.text:
            self.show(self.text)

    def clear(self) -> None:
        self.hide()
        self.text = ""


class BesideProgress:
    """A log stream that takes the progress line away while a log line is written, then puts it back."""

    def __init__(self, out: TextIO, bar: ProgressLine) -> None:
        self.out = out
        self.bar = bar

    def write(self, text: str) -> int:
        self.bar.hide()
        written = self.out.write(text)
        self.out.flush()
        if text.endswith("\n"):
            self.bar.redraw()
        return written

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()


def progress_line(values: dict[str, Any]) -> str:
    """One terminal line: a bar while bulk lines are recorded, counters while the feed is read."""
    total = int(values.get("bulk_lines_total") or 0)
    if total:
        done = int(values.get("bulk_lines_done") or 0)
        # While an operation runs, Shopify's count of the lines it has processed moves the bar.
        processed = max(done, int(values.get("bulk_lines_processed") or 0))
        filled = BAR_WIDTH * min(processed, total) // total
        return (
            f"publishing [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {processed:,}/{total:,} bulk lines"
            f" processed, {done:,} recorded"
        )
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
    if result.status == RunStatus.UNCHANGED:
        lines.append(f"  {counts.get('unchanged_reason')}; nothing parsed, nothing sent to the shop")
    lines.extend(drift_lines(counts))
    if result.status == RunStatus.DRY_RUN and result.plan:
        plan = result.plan
        counted = [
            f"{key} {value}"
            for key, value in plan.items()
            if isinstance(value, int) and not isinstance(value, bool)
        ]
        lines.append("  plan: " + ", ".join(counted))
        if plan.get("deletes_held_back"):
            lines.append(
                f"  deletes held back: {plan['deletes_held_back']} (--allow-mass-delete to go ahead once)"
            )
        for action, items in (result.details or {}).get("products", {}).items():
            shown = ", ".join(item["product_key"] for item in items[:10])
            more = f" (+{len(items) - 10} more)" if len(items) > 10 else ""
            lines.append(f"  {action}: {shown}{more}")
        if plan.get("write_kinds"):
            kinds = ", ".join(f"{kind} {count}" for kind, count in plan["write_kinds"].items())
            lines.append(f"  writes by mutation: {kinds}")
        for update in (result.details or {}).get("updates", [])[:10]:
            kind = update.get("write_kind") or "set"
            for change in update["changes"][:5]:
                lines.append(
                    f"    {update['product_key']} ({kind}) {change['field']}: "
                    f"{change['before']!r} -> {change['after']!r}"
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
    lines.extend(rejected_lines(counts))
    if counts.get("seconds"):
        lines.append(
            "  seconds: "
            + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in counts["seconds"].items())
        )
    return "\n".join(lines)


def rejected_lines(counts: dict[str, Any]) -> list[str]:
    """The rejected products by key and SKUs with their first error, then the map stage's warnings."""
    named = counts.get("rejected_products", [])
    lines = []
    total = len(named) + int(counts.get("rejected_products_more") or 0)
    if named:
        lines.append(f"  rejected products ({total:,}, not written):")
    for product in named[:SHOWN_REJECTED]:
        skus = f" (SKU {', '.join(product['skus'])})" if product["skus"] else ""
        lines.append(f"    {product['key']}{skus}: {product['error'] or 'rejected'}")
    if total > SHOWN_REJECTED:
        lines.append(f"    ... and {total - SHOWN_REJECTED:,} more (in the run's logs)")
    lines.extend(f"  warning: {warning}" for warning in counts.get("warnings", []))
    return lines


def drift_lines(counts: dict[str, Any]) -> list[str]:
    """What the drift check (or a reconcile) found in the shop and did, when it found anything."""
    lines = []
    for name in ("drift", "reconcile"):
        found = counts.get(name)
        if not isinstance(found, dict):
            continue
        if found.get("error"):
            lines.append(f"  {name} check failed: {found['error']}")
        elif found.get("drifted") or found.get("deleted") or found.get("reported"):
            lines.append(
                f"  {name}: {found.get('drifted', 0)} product(s) edited in the shop ({found.get('fields', 0)} "
                f"field(s)), {found.get('deleted', 0)} deleted; written back {found.get('written_back', 0)}, "
                f"kept {found.get('kept', 0)}, reported {found.get('reported', 0)}"
            )
    return lines
