"""The API's one error shape: `{"error": {"code", "message", "details"}}` — never a trace, never a secret."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from erpsync.api.schemas import QUERY_MODELS
from erpsync.logs import scrub


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": scrub(message), "details": details or []}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def validation_details(exc: ValidationError, *, prefix: tuple[str | int, ...] = ()) -> list[dict[str, str]]:
    """One entry per problem: the dotted field path and the reason, as a merchant would read them."""
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [*prefix, *error["loc"]]
        problem = (error.get("ctx") or {}).get("error")
        path = getattr(problem, "path", None)
        field = path or (".".join(str(part) for part in loc) or "(body)")
        message = str(problem) if isinstance(problem, ValueError) else error["msg"]
        details.append({"field": field, "message": scrub(message)})
    return details


def validation_error(exc: ValidationError) -> web.Response:
    """422 naming each field; a query's parameters are not called a sync config."""
    details = validation_details(exc)
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in details[:5])
    if exc.title in QUERY_MODELS:
        return error_response(422, "invalid_query", f"invalid query parameters ({summary})", details)
    return error_response(422, "invalid_body", f"the body is not a valid sync config ({summary})", details)
