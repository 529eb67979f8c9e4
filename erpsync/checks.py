"""`erpsync check`: settings and connectivity, one result per thing an operator must get right."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from redis.asyncio import Redis

from erpsync.api.app import check_exposure
from erpsync.db.migrate import schema_state
from erpsync.db.pool import connect, describe_dsn
from erpsync.errors import ErpsyncError
from erpsync.settings import Settings, find_config_file
from erpsync.shopify import documents
from erpsync.shopify.client import ShopifyClient, ShopTarget
from erpsync.shopify.errors import ShopifyError

CHECK_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


async def run_checks(settings: Settings, config_file: str | None = None) -> list[CheckResult]:
    source = find_config_file(config_file)
    results = [
        CheckResult("settings", True, f"loaded from {source}" if source else "defaults and environment")
    ]
    try:
        check_exposure(settings)
        results.append(CheckResult("api", True, f"{settings.api.host}:{settings.api.port}"))
    except ErpsyncError as exc:
        results.append(CheckResult("api", False, str(exc)))
    results.append(await check_postgres(settings))
    results.append(await check_redis(settings))
    results.extend(await check_shopify(settings))
    return results


async def check_postgres(settings: Settings) -> CheckResult:
    target = describe_dsn(settings.database.url)
    try:
        conn = await connect(settings.database)
    except ErpsyncError as exc:
        return CheckResult("postgresql", False, str(exc))
    try:
        version, pending = await schema_state(conn)
    finally:
        await conn.close()
    if pending:
        return CheckResult(
            "postgresql",
            False,
            f"{target} (PostgreSQL {version}): run `erpsync migrate`, {len(pending)} migration(s) pending",
        )
    return CheckResult("postgresql", True, f"{target} (PostgreSQL {version}), schema up to date")


async def check_redis(settings: Settings) -> CheckResult:
    client = Redis.from_url(
        settings.redis.url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            info = await client.info("server")
    except Exception as exc:  # redis-py's errors have no common base worth naming here
        return CheckResult("redis", False, f"cannot reach Redis: {type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    return CheckResult("redis", True, f"Redis {info.get('redis_version', '?')}")


# What erpsync does in a shop: write products and their stock, read where stock is kept, publish
# products on sales channels. A write scope implies its read scope
# (https://shopify.dev/docs/api/usage/access-scopes).
REQUIRED_SCOPES = ("write_products", "write_inventory", "read_locations", "write_publications")


async def check_shopify(settings: Settings) -> list[CheckResult]:
    """Asks the shop: it answers, takes the token, serves the API version, and grants the scopes."""
    shopify = settings.shopify
    if not shopify.shop:
        return [CheckResult("shopify", False, "[shopify] shop is not set")]
    if shopify.access_token is None and not (shopify.client_id and shopify.client_secret):
        return [CheckResult("shopify", False, "set [shopify] access_token, or client_id and client_secret")]
    auth = "access token" if shopify.access_token is not None else "client credentials grant"
    target = ShopTarget.from_settings(shopify)
    target = dataclasses.replace(target, max_retries=1, timeout=CHECK_TIMEOUT, connect_timeout=CHECK_TIMEOUT)
    where = f"{shopify.shop} via {target.root_url}, API {shopify.api_version}, {auth}"
    try:
        async with asyncio.timeout(4 * CHECK_TIMEOUT), ShopifyClient(target) as client:
            data = await client.execute(documents.CHECK)
            served = client.served_version
    except ShopifyError as exc:
        return [CheckResult("shopify", False, f"{where}: {exc}")]
    except TimeoutError:
        return [CheckResult("shopify", False, f"{where}: no answer within {4 * CHECK_TIMEOUT:g} s")]
    shop = data.get("shop") or {}
    plan = (shop.get("plan") or {}).get("publicDisplayName") or "?"
    version = (
        "" if served in (None, shopify.api_version) else f" (the shop answered with {served}: unsupported?)"
    )
    answered = CheckResult(
        "shopify",
        not version,
        f"{where}{version}: {shop.get('name')!r}, plan {plan}, currency {shop.get('currencyCode')}",
    )
    granted = {
        item["handle"] for item in (data.get("currentAppInstallation") or {}).get("accessScopes") or []
    }
    granted |= {"read_" + handle.removeprefix("write_") for handle in granted if handle.startswith("write_")}
    missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
    scopes = CheckResult(
        "shopify scopes",
        not missing,
        f"missing {', '.join(missing)}; grant them to the app and reinstall it"
        if missing
        else ", ".join(REQUIRED_SCOPES),
    )
    return [answered, scopes]
