"""The simulator's aiohttp application: GraphQL endpoint, token grant, staged uploads, result files, admin.

``create_app(SimulatorOptions(...))`` gives an app that behaves like one shop's Admin API closely enough
that a client which works against it works against Shopify (``../shared/docs/shopify-contract.md``).
https://shopify.dev/docs/api/admin-graphql · https://shopify.dev/docs/api/usage/response-codes
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from shopify_simulator.bulk import RESULT_PATH_PREFIX, STAGED_UPLOAD_PATH, BulkManager
from shopify_simulator.context import ExecutionContext
from shopify_simulator.cost import CostCalculator
from shopify_simulator.inventory import sell_units
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.replies import max_cost_error, reply_extensions, throttled_response, with_extensions
from shopify_simulator.resolvers import execute_prepared
from shopify_simulator.schema import RequestRefused, load_schema, prepare_request
from shopify_simulator.state import ShopState, load_state, new_shop_state, save_state
from shopify_simulator.stats import FAULT_KEYS, Faults, Stats
from shopify_simulator.throttle import LeakyBucket
from shopify_simulator.uploads import handle_staged_upload

__all__ = ["SIMULATOR_KEY", "Simulator", "SimulatorOptions", "create_app"]

logger = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
BAD_REQUEST_BODY = {"errors": {"query": "Required parameter missing or invalid"}}


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


@dataclass
class Simulator:
    """Everything one simulated shop holds at run time."""

    options: SimulatorOptions
    state: ShopState
    stats: Stats = field(default_factory=Stats)
    faults: Faults = field(default_factory=Faults)
    bucket: LeakyBucket = field(init=False)
    bulk: BulkManager = field(init=False)
    granted_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())

    def __post_init__(self) -> None:
        self.bucket = LeakyBucket(
            capacity=self.options.effective_bucket_size(), restore_rate=self.options.effective_restore_rate()
        )
        self.bulk = BulkManager(state=self.state, options=self.options, stats=self.stats, faults=self.faults)

    def token_is_valid(self, token: str | None) -> bool:
        """The permanent token, or a granted one that has not expired."""
        if not token:
            return False
        if secrets.compare_digest(token, self.options.access_token):
            return True
        expiry = self.granted_tokens.get(token)
        return expiry is not None and expiry > time.time()

    async def reset(self) -> None:
        """Back to an empty shop with full bucket, no faults, zero counters."""
        await self.bulk.close()
        self.state = new_shop_state(location_names=self.options.location_names)
        self.state.shop_name = self.options.shop_name
        self.stats = Stats()
        self.faults = Faults()
        self.bucket.reset()
        self.bulk = BulkManager(state=self.state, options=self.options, stats=self.stats, faults=self.faults)


SIMULATOR_KEY = web.AppKey("simulator", Simulator)


def _simulator(request: web.Request) -> Simulator:
    return request.app[SIMULATOR_KEY]


def _base_url(request: web.Request) -> str:
    # Derived from the request so that staged-upload and result URLs work on any host and port.
    return f"{request.scheme}://{request.host}"


# --- faults --------------------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Injected latency, failed requests and dropped connections; the admin endpoints are exempt."""
    if request.path.startswith("/_simulator/"):
        return await handler(request)
    simulator = _simulator(request)
    faults = simulator.faults
    if faults.latency_seconds > 0:
        await asyncio.sleep(faults.latency_seconds)
    if faults.drop_connections > 0:
        faults.drop_connections -= 1
        simulator.stats.requests += 1
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    flaky = faults.flaky_status() if request.path.startswith("/admin/") else None
    if faults.fail_requests > 0 or flaky is not None:
        if flaky is None:
            faults.fail_requests -= 1
        simulator.stats.requests += 1
        status = flaky or faults.fail_status
        body: dict[str, Any] = {"errors": "An unexpected error occurred"}
        if status == 429:
            return json_response(
                {
                    "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
                },
                status=429,
                headers={"Retry-After": "1.0"},
            )
        return json_response(body, status=status)
    return await handler(request)


# --- GraphQL -------------------------------------------------------------------------------------------


def _resolve_version(simulator: Simulator, requested: str) -> str | None:
    """The version that serves a request, or None for 404. https://shopify.dev/docs/api/usage/versioning"""
    if not VERSION_PATTERN.match(requested):
        return None
    if requested in simulator.options.api_versions:
        return requested
    if simulator.options.unsupported_version == "404":
        return None
    # An unsupported version is served by the oldest supported one, without an error.
    return min(version for version in simulator.options.api_versions if version != "unstable")


def _extensions(
    simulator: Simulator,
    requested: int,
    actual: int | None,
    *,
    error: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    return reply_extensions(simulator.bucket, simulator.options, requested, actual, error=error, extra=extra)


async def _read_graphql_body(request: web.Request) -> dict[str, Any] | None:
    content_type = request.content_type
    if content_type == "application/graphql":
        return {"query": await request.text()}
    if content_type != "application/json":
        return None
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    if body.get("variables") is not None and not isinstance(body["variables"], dict):
        return None
    return body


async def graphql_handler(request: web.Request) -> web.StreamResponse:
    """``POST /admin/api/{version}/graphql.json``."""
    simulator = _simulator(request)
    simulator.stats.requests += 1
    version = _resolve_version(simulator, request.match_info["version"])
    if version is None:
        return json_response({"errors": "Not Found"}, status=404)
    headers = {"X-Shopify-API-Version": version}
    if not simulator.token_is_valid(request.headers.get("X-Shopify-Access-Token")):
        return json_response(INVALID_TOKEN_BODY, status=401, headers=headers)
    body = await _read_graphql_body(request)
    if body is None:
        return json_response(BAD_REQUEST_BODY, status=400, headers=headers)
    schema = load_schema()
    try:
        prepared = prepare_request(body["query"], body.get("variables"), body.get("operationName"))
    except RequestRefused as refused:
        extensions = _extensions(simulator, 0, 0, error=True)
        return json_response(with_extensions({"errors": refused.errors}, extensions), headers=headers)
    calculator = CostCalculator(schema, prepared)
    requested = calculator.requested()
    if requested > simulator.options.max_query_cost:
        body = {"errors": [max_cost_error(requested, simulator.options.max_query_cost)]}
        extensions = _extensions(simulator, requested, None, error=True)
        return json_response(with_extensions(body, extensions), headers=headers)
    forced = simulator.faults.take_throttle()
    if forced or (simulator.options.throttling_enabled and not simulator.bucket.try_take(requested)):
        simulator.stats.throttled += 1
        extensions = _extensions(simulator, requested, None, error=True)
        return throttled_response(simulator.options, extensions, headers)
    context = ExecutionContext(
        state=simulator.state,
        options=simulator.options,
        stats=simulator.stats,
        faults=simulator.faults,
        base_url=_base_url(request),
        api_version=version,
        bulk=simulator.bulk,
    )
    response = execute_prepared(prepared, context)
    actual = min(requested, calculator.actual(response.get("data")))
    if simulator.options.throttling_enabled:
        simulator.bucket.refund(requested - actual)
    simulator.stats.cost_spent += actual
    extra = {"search": context.search_warnings} if context.search_warnings else None
    extensions = _extensions(simulator, requested, actual, error=bool(response.get("errors")), extra=extra)
    response = with_extensions(response, extensions)
    if hold := simulator.faults.take_bulk_start_hold(response):
        await asyncio.sleep(hold)
    return json_response(response, headers=headers)


# --- client credentials grant --------------------------------------------------------------------------


async def access_token_handler(request: web.Request) -> web.StreamResponse:
    """``POST /admin/oauth/access_token`` with ``grant_type=client_credentials``.

    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
    """
    simulator = _simulator(request)
    simulator.stats.requests += 1
    if request.content_type == "application/json":
        try:
            raw = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raw = {}
        form: dict[str, Any] = raw if isinstance(raw, dict) else {}
    else:
        form = dict(await request.post())
    options = simulator.options
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, status=400)
    if (
        options.client_id is None
        or options.client_secret is None
        or form.get("client_id") != options.client_id
        or not secrets.compare_digest(str(form.get("client_secret", "")), options.client_secret)
    ):
        return json_response(
            {"error": "invalid_client", "error_description": "Client authentication failed"}, status=400
        )
    token = f"shpat_{secrets.token_hex(16)}"
    simulator.granted_tokens[token] = time.time() + options.granted_token_lifetime
    return json_response(
        {
            "access_token": token,
            "scope": options.granted_scope,
            "expires_in": int(options.granted_token_lifetime),
        }
    )


# --- result files --------------------------------------------------------------------------------------


async def result_file_handler(request: web.Request) -> web.StreamResponse:
    """The JSONL at ``BulkOperation.url``/``partialDataUrl``: signed, so no token is asked for."""
    simulator = _simulator(request)
    content = simulator.state.result_files.get(request.match_info["name"])
    if content is None:
        return web.Response(
            status=404,
            content_type="application/xml",
            text="<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
            "<Message>The specified key does not exist.</Message></Error>",
        )
    return web.Response(body=content, content_type="application/jsonl")


async def staged_upload_handler(request: web.Request) -> web.StreamResponse:
    """The staged upload target (see ``uploads.py``)."""
    simulator = _simulator(request)
    simulator.stats.requests += 1
    return await handle_staged_upload(request, simulator.state, simulator.bulk, simulator.options)


# --- admin ---------------------------------------------------------------------------------------------


async def stats_handler(request: web.Request) -> web.StreamResponse:
    """``GET /_simulator/stats``."""
    return json_response(_simulator(request).stats.as_json(_simulator(request).state))


async def faults_handler(request: web.Request) -> web.StreamResponse:
    """``POST /_simulator/faults``: set the faults (``{"clear": true}`` removes them); answers the faults now set."""
    simulator = _simulator(request)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return json_response({"error": "body must be a JSON object"}, status=400)
    if not isinstance(body, dict) or not set(body) <= FAULT_KEYS:
        return json_response({"error": f"known keys: {sorted(FAULT_KEYS)}"}, status=400)
    try:
        simulator.faults.update(body)
    except (TypeError, ValueError) as error:
        return json_response({"error": str(error)}, status=400)
    return json_response(simulator.faults.as_json())


async def sell_handler(request: web.Request) -> web.StreamResponse:
    """``POST /_simulator/sell`` ``{"sku", "quantity", "location_id"?}``: an order takes units from
    ``available`` (``inventory.sell_units``); answers what is available now."""
    simulator = _simulator(request)
    try:
        body = orjson.loads(await request.read())
        available = sell_units(
            simulator.state, str(body["sku"]), int(body["quantity"]), body.get("location_id")
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        return json_response({"error": str(error)}, status=400)
    simulator.stats.units_sold += int(body["quantity"])
    return json_response({"sku": body["sku"], "available": available})


async def reset_handler(request: web.Request) -> web.StreamResponse:
    """``POST /_simulator/reset``: an empty shop, zero counters, no faults."""
    await _simulator(request).reset()
    return json_response({"reset": True})


# --- application ---------------------------------------------------------------------------------------


def _initial_state(options: SimulatorOptions) -> ShopState:
    if options.state_file is not None and options.state_file.exists():
        state = load_state(options.state_file)
        for operation in state.bulk_operations.values():
            # Operations cut short by the stop cannot resume: they read as failed by a system error.
            if operation.status in ("CREATED", "RUNNING", "CANCELING"):
                operation.status = "FAILED"
                operation.error_code = "INTERNAL_SERVER_ERROR"
        return state
    state = new_shop_state(location_names=options.location_names)
    state.shop_name = options.shop_name
    return state


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    simulator = app[SIMULATOR_KEY]
    yield
    await simulator.bulk.close()
    if simulator.options.state_file is not None:
        save_state(simulator.state, simulator.options.state_file)
        logger.info("simulator state saved to %s", simulator.options.state_file)


def create_app(options: SimulatorOptions) -> web.Application:
    """The simulator as an aiohttp application (state loaded from ``options.state_file`` if it exists)."""
    load_schema()  # build the schema now, not on the first request
    app = web.Application(middlewares=[fault_middleware])
    app[SIMULATOR_KEY] = Simulator(options=options, state=_initial_state(options))
    app.router.add_post("/admin/api/{version}/graphql.json", graphql_handler)
    app.router.add_post("/admin/oauth/access_token", access_token_handler)
    app.router.add_post(STAGED_UPLOAD_PATH, staged_upload_handler)
    app.router.add_get(RESULT_PATH_PREFIX + "{name}", result_file_handler)
    if options.admin:
        app.router.add_get("/_simulator/stats", stats_handler)
        app.router.add_post("/_simulator/faults", faults_handler)
        app.router.add_post("/_simulator/reset", reset_handler)
        app.router.add_post("/_simulator/sell", sell_handler)
    app.on_response_prepare.append(_add_request_id)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Shopify tags every response with ``X-Request-Id``, the id its support asks for."""
    response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
