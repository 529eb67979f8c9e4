"""`erpsync check`: settings and connectivity, one result per thing an operator must get right."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

from erpsync.api.app import check_exposure
from erpsync.db.migrate import schema_state
from erpsync.db.pool import connect, describe_dsn
from erpsync.errors import ErpsyncError
from erpsync.settings import Settings, find_config_file

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
    results.append(check_shopify(settings))
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


def check_shopify(settings: Settings) -> CheckResult:
    shopify = settings.shopify
    if not shopify.shop:
        return CheckResult("shopify", False, "[shopify] shop is not set")
    if shopify.access_token is None and not (shopify.client_id and shopify.client_secret):
        return CheckResult("shopify", False, "set [shopify] access_token, or client_id and client_secret")
    auth = "access token" if shopify.access_token is not None else "client credentials grant"
    target = shopify.base_url or f"https://{shopify.shop}"
    return CheckResult("shopify", True, f"{shopify.shop} via {target}, API {shopify.api_version}, {auth}")
