"""``erpsync simulator``: run the Shopify simulator until SIGINT/SIGTERM, saving state on the way out.

The server (graphql-core, the schema) is imported when the command runs, not when the CLI loads: every
other command, `erpsync sync` included, would otherwise pay ~0.4 s of start-up for it.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from shopify_simulator.options import SimulatorOptions


async def serve(options: SimulatorOptions, *, host: str, port: int) -> None:
    """Serve until a stop signal; the app's cleanup stops bulk operations and saves ``--state``."""
    from aiohttp import web

    from shopify_simulator.server import create_app

    app = create_app(options)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    bound = runner.addresses[0] if runner.addresses else (host, port)
    click.echo(f"Shopify simulator on http://{bound[0]}:{bound[1]}/admin/api/2026-10/graphql.json", err=True)
    try:
        await stop.wait()
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)
        await runner.cleanup()


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8555, show_default=True, type=int, help="Port to listen on (0 = any free port)."
)
@click.option(
    "--access-token", default="shpat_simulator", show_default=True, help="The permanent Admin API token."
)
@click.option("--client-id", default=None, help="Enables the client credentials grant with --client-secret.")
@click.option("--client-secret", default=None, help="Secret for the client credentials grant.")
@click.option(
    "--plan",
    type=click.Choice(["standard", "advanced", "plus", "enterprise"]),
    default="standard",
    show_default=True,
    help="Shopify plan: sets the throttle's restore rate (100/200/1000/2000 points per second).",
)
@click.option(
    "--bulk-rate", type=float, default=200.0, show_default=True, help="Bulk lines processed per second."
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Load the shop from FILE if it exists and save it there on exit.",
)
@click.option("--admin", is_flag=True, help="Serve /_simulator/stats, /_simulator/faults, /_simulator/reset.")
def simulator_command(
    *,
    host: str,
    port: int,
    access_token: str,
    client_id: str | None,
    client_secret: str | None,
    plan: str,
    bulk_rate: float,
    state_file: Path | None,
    admin: bool,
) -> None:
    """Run a Shopify Admin API simulator (GraphQL, bulk operations, staged uploads, throttling)."""
    if (client_id is None) != (client_secret is None):
        raise click.UsageError("--client-id and --client-secret go together")
    if bulk_rate <= 0:
        raise click.UsageError("--bulk-rate must be positive")
    options = SimulatorOptions(
        access_token=access_token,
        client_id=client_id,
        client_secret=client_secret,
        plan=plan,  # type: ignore[arg-type]
        bulk_rate=bulk_rate,
        state_file=state_file,
        admin=admin,
    )
    asyncio.run(serve(options, host=host, port=port))
