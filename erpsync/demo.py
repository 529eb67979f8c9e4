"""`erpsync demo`: the whole job end to end on built-in defaults, with nothing to set up but PostgreSQL.

It migrates a demo database, starts the Shopify simulator and a loopback FTP server holding a sample
feed (a few hundred products with sizes, a metafield and stock), applies a config, runs a full sync,
changes the feed (prices, a product gone, a product new), syncs again, and says what happened.
"""

from __future__ import annotations

import contextlib
import csv
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aioftp
import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from erpsync import embedded_pg
from erpsync.crypto import SecretBox
from erpsync.db.configs import delete_config, upsert_config
from erpsync.db.migrate import apply_migrations
from erpsync.db.pool import connect, create_database_if_missing, create_pool, describe_dsn
from erpsync.errors import ConfigNotFound, DatabaseError
from erpsync.models import SyncConfig
from erpsync.settings import DatabaseSettings, Settings, ShopifySettings, SyncSettings
from erpsync.sync import SyncResult, run_sync
from shopify_simulator.server import SimulatorOptions, create_app

DEMO_DATABASE = "erpsync_demo"
# Demo credentials for servers that live only as long as the demo, on loopback.
DEMO_TOKEN = "shpat_demo_token"  # noqa: S105
DEMO_SECRET = "demo-secret-key-not-for-production"  # noqa: S105
FTP_USER, FTP_PASSWORD = "erp", "demo-ftp-password"
SIZES = ("S", "M", "L", "XL")
MATERIALS = ("cotton", "linen", "wool", "hemp", "silk")


@dataclass(frozen=True, slots=True)
class DemoReport:
    first: SyncResult
    second: SyncResult
    shop_url: str
    database: str


def write_sample_feed(path: Path, *, products: int, edition: int) -> None:
    """A deterministic ERP export; edition 2 moves prices, drops one product and adds another."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            [
                "parentSku",
                "SKU",
                "productName",
                "brand",
                "category",
                "price",
                "size",
                "stock",
                "material",
                "keywords",
            ]
        )
        for index in range(1, products + 1 + (1 if edition > 1 else 0)):
            if edition > 1 and index == 7:
                continue  # discontinued in the ERP
            rng = random.Random(index)  # noqa: S311 - sample data, the same for a product in every edition
            variants = rng.randint(1, len(SIZES))
            price = 9.5 + (index % 40) + (2 if edition > 1 and index % 25 == 0 else 0)
            for size in SIZES[:variants]:
                writer.writerow(
                    [
                        f"TEE-{index:04d}",
                        f"TEE-{index:04d}-{size}",
                        f"Demo Tee {index}",
                        f"Brand {index % 7}",
                        "T-Shirts",
                        f"{price:.2f}".replace(".", ","),
                        size,
                        rng.randint(0, 60),
                        MATERIALS[index % len(MATERIALS)],
                        "demo,summer",
                    ]
                )


def demo_config(ftp_port: int) -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "id": "demo",
            "name": "Demo ERP feed",
            "connection_type": "ftp",
            "credentials": {
                "host": "127.0.0.1",
                "port": ftp_port,
                "username": FTP_USER,
                "password": FTP_PASSWORD,
                "filePath": "/export/products_*.csv",
            },
            "format": "csv",
            "format_options": {"delimiter": ";", "decimal_comma": True},
            "product_key": "parentSku",
            "options": ["Size"],
            "mapping": {
                "title": "productName",
                "vendor": "brand",
                "product_type": "category",
                "tags": "keywords",
                "variant.sku": "SKU",
                "variant.price": "price",
                "variant.option1": "size",
                "variant.inventory_quantity": "stock",
            },
            "metafield_mappings": [
                {
                    "sourceKey": "material",
                    "metafieldNamespace": "custom",
                    "metafieldKey": "material",
                    "metafieldType": "single_line_text_field",
                }
            ],
            "sync_frequency": "24",
        }
    )


async def ensure_database(url: str) -> None:
    """Create the demo database if it does not exist, through the server's `postgres` database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = await connect(DatabaseSettings(url=urlunsplit(parts._replace(path="/postgres"))))
    try:
        await create_database_if_missing(admin, name)
    finally:
        await admin.close()


async def prepare_database(url: str, say: Any) -> None:
    """Create and migrate the demo database; forget an earlier demo's config."""
    try:
        await ensure_database(url)
    except (DatabaseError, asyncpg.PostgresError) as exc:
        raise DatabaseError(f"the demo needs PostgreSQL: {exc}") from exc
    conn = await connect(DatabaseSettings(url=url))
    try:
        applied = await apply_migrations(conn)
        say(f"database {describe_dsn(url)}: {len(applied)} migration(s) applied")
        with contextlib.suppress(ConfigNotFound):  # an earlier demo's config, and its runs
            await delete_config(conn, "demo", purge=True)
    finally:
        await conn.close()


async def run_demo(settings: Settings, *, products: int = 300, say: Any = print) -> DemoReport:
    """Run the demo; `say` receives each line of the story. Where the configured PostgreSQL cannot be
    reached, an embedded one is started for the demo and stopped after it."""
    try:
        await prepare_database(settings.database.url, say)
    except DatabaseError as exc:
        if not embedded_pg.available():
            raise DatabaseError(f"{exc}; or {embedded_pg.INSTALL_HINT}") from None
        say(f"no PostgreSQL at {describe_dsn(settings.database.url)}: the demo starts an embedded one")
    else:
        return await _run(settings, products=products, say=say, kept=True)
    # Outside the handler: what fails from here on is not chained onto the refused connection.
    async with embedded_pg.embedded_postgres(DEMO_DATABASE) as url:
        embedded = settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})})
        await prepare_database(url, say)
        return await _run(embedded, products=products, say=say, kept=False)


async def _run(settings: Settings, *, products: int, say: Any, kept: bool) -> DemoReport:
    with tempfile.TemporaryDirectory(prefix="erpsync-demo-") as tmp:
        root = Path(tmp)
        export = root / "ftp" / "export"
        export.mkdir(parents=True)
        feed = export / "products_2026-11-25.csv"
        write_sample_feed(feed, products=products, edition=1)
        runner = web.AppRunner(
            create_app(SimulatorOptions(access_token=DEMO_TOKEN, bulk_rate=5000.0, admin=True))
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        shop_url = f"http://127.0.0.1:{_port(site)}"
        ftp = aioftp.Server([aioftp.User(FTP_USER, FTP_PASSWORD, base_path=root / "ftp", home_path="/")])
        await ftp.start("127.0.0.1", 0)
        ftp_port = ftp.server.sockets[0].getsockname()[1]
        say(f"Shopify simulator on {shop_url}; FTP server on 127.0.0.1:{ftp_port} with {feed.name}")
        try:
            first, second = await sync_twice(
                settings, root, shop_url=shop_url, ftp_port=ftp_port, feed=feed, products=products, say=say
            )
            say(await channels_line(shop_url))
        finally:
            await ftp.close()
            await runner.cleanup()
    say("")
    say("Where to look next (each command as it can be pasted):")
    if kept:
        env = f"DATABASE_URL={settings.database.url}"
        say(f"  {env} erpsync runs demo        # the runs just made")
        say(f"  {env} erpsync logs demo        # what they said")
    else:
        say(
            "  (the embedded PostgreSQL has stopped with the demo; with a server of your own the runs are kept)"
        )
    say("  erpsync simulator --port 8555 --admin    # a shop of your own to point a config at")
    return DemoReport(first, second, shop_url, settings.database.url)


async def sync_twice(
    settings: Settings, root: Path, *, shop_url: str, ftp_port: int, feed: Path, products: int, say: Any
) -> tuple[SyncResult, SyncResult]:
    """Apply the demo config, sync, let the ERP export again, sync again."""
    demo_settings = settings.model_copy(
        update={
            "shopify": ShopifySettings(
                shop="demo.myshopify.com",
                base_url=shop_url,
                access_token=SecretStr(DEMO_TOKEN),
                poll_interval=0.2,
            ),
            "sync": SyncSettings(work_dir=root / "work"),
            "security": settings.security.model_copy(
                update={"secret_key": settings.security.secret_key or SecretStr(DEMO_SECRET)}
            ),
        }
    )
    box = SecretBox(demo_settings.security.secret_key, demo_settings.security.previous_keys)
    pool = await create_pool(demo_settings.database)
    try:
        async with pool.acquire() as conn:
            await upsert_config(conn, box, demo_config(ftp_port))
        say("config 'demo' applied: FTP feed, CSV with ';' and decimal commas, sizes as variants")
        first = await run_sync(demo_settings, pool, "demo", trigger="demo")
        say(describe(first, "first sync"))
        write_sample_feed(feed, products=products, edition=2)
        say("the ERP exported again: some prices moved, TEE-0007 was discontinued, one product is new")
        second = await run_sync(demo_settings, pool, "demo", trigger="demo")
        say(describe(second, "second sync"))
    finally:
        await pool.close()
    return first, second


def describe(result: SyncResult, label: str) -> str:
    counts = result.counts
    parts = [
        f"{key} {counts.get(key, 0)}" for key in ("created", "updated", "unchanged", "deleted", "failed")
    ]
    extra = f" ({result.error})" if result.error else ""
    return (
        f"{label}: {result.status}{extra} - {', '.join(parts)}; {counts.get('rows_read', 0)} rows read, "
        f"{counts.get('bulk_operations', 0)} bulk operation(s)"
    )


async def channels_line(shop_url: str) -> str:
    """Where the shop's products are published, from the simulator's admin stats."""
    async with aiohttp.ClientSession() as session, session.get(f"{shop_url}/_simulator/stats") as response:
        stats = await response.json()
    total = int(stats["products"])
    channels = [f"{name}: {len(ids)} of {total}" for name, ids in stats["published"].items()]
    return f"published on {'; '.join(channels) or 'no sales channel'}"


def _port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp exposes the bound port only through the server's sockets
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1])
