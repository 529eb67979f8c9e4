"""Request middleware: bearer auth, then translation of every failure into the one error shape."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import asyncpg
import orjson
from aiohttp import web
from pydantic import ValidationError

from erpsync.api.keys import SETTINGS, STATUS_SNAPSHOT
from erpsync.api.problems import error_response, validation_error
from erpsync.api.text import refused_input, text_problem
from erpsync.api.views import ValidationFailed
from erpsync.errors import ConfigError, ConfigNotFound, DatabaseError, ErpsyncError
from erpsync.logs import get_logger

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/health"})
# What each path parameter names, for the 404 of an id that cannot exist.
PATH_NOUNS = {"id": "sync config", "run_id": "run"}
log = get_logger("erpsync.api")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON with a stable code; unexpected ones are logged, never shown."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_error(request, exc)
    except ValidationError as exc:
        return validation_error(exc)
    except ValidationFailed as exc:
        detail = {"field": exc.field, "message": exc.message}
        return error_response(422, "invalid_body", f"{exc.field}: {exc.message}", [detail])
    except ConfigNotFound as exc:
        return error_response(404, "not_found", str(exc))
    except ConfigError as exc:
        return error_response(422, "invalid_config", str(exc))
    except asyncpg.DataError as exc:  # before InterfaceError: the safety net behind the checks at the edge
        if not refused_input(exc):
            return internal_error(request)
        log.warning("PostgreSQL refused a value", error=type(exc).__name__, path=request.path)
        return error_response(
            422,
            "invalid_input",
            "the request holds a value PostgreSQL cannot store "
            "(a NUL character, text that is not UTF-8, a number or a date out of range)",
        )
    except (
        DatabaseError,
        asyncpg.TooManyConnectionsError,
        asyncpg.CannotConnectNowError,
        asyncpg.InterfaceError,
        ConnectionError,
    ) as exc:
        log.error("database unavailable", error=f"{type(exc).__name__}: {exc}", path=request.path)
        return error_response(503, "database_unavailable", "PostgreSQL is unavailable; try again shortly")
    except ErpsyncError as exc:
        log.error("request failed", error=str(exc), path=request.path)
        return error_response(500, "internal_error", str(exc))
    except orjson.JSONDecodeError as exc:
        return error_response(400, "malformed_json", f"the body is not valid JSON: {exc}")
    except Exception:  # the outermost edge: anything unforeseen becomes a 500 without details
        return internal_error(request)


def internal_error(request: web.Request) -> web.Response:
    """Called inside an `except`: the trace goes to the log, the client learns only that it failed."""
    log.exception("unhandled error", path=request.path, method=request.method)
    return error_response(500, "internal_error", "internal error; see the server log")


def http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own 4xx (no route, wrong method, body too large or too slow) in the API's shape."""
    code = {404: "not_found", 405: "method_not_allowed", 408: "body_timeout", 413: "body_too_large"}.get(
        exc.status, "http_error"
    )
    message = exc.reason if exc.status != 404 else f"no route for {request.method} {request.path}"
    if exc.status == 413:
        limit = request.app[SETTINGS].api.max_body_bytes
        message = f"the body is larger than the {limit:,} bytes allowed"
    response = error_response(exc.status, code, message)
    if exc.status == 408:  # the rest of that body is not worth waiting for: close, don't linger
        response.force_close()
    if "Allow" in exc.headers:  # RFC 9110: a 405 says which methods the resource has
        response.headers["Allow"] = exc.headers["Allow"]
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`Authorization: Bearer <api.token>` on every route but /health, compared in constant time."""
    token = request.app[SETTINGS].api.token
    if token is None or request.path in PUBLIC_PATHS:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        response = error_response(
            401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="erpsync"'
        return response
    return await handler(request)


@web.middleware
async def path_params_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path id PostgreSQL could not even store (a NUL, a lone surrogate) names nothing: 404, no query."""
    for name, value in request.match_info.items():
        if text_problem(value):
            noun = PATH_NOUNS.get(name, name)
            return error_response(404, "not_found", f"no {noun} with id {value!r}")
    return await handler(request)


@web.middleware
async def fresh_status_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A successful write here (a config changed, a run queued) makes the next status answer fresh."""
    response = await handler(request)
    if request.method not in {"GET", "HEAD", "OPTIONS"} and response.status < 400:
        request.app[STATUS_SNAPSHOT].invalidate()
    return response
