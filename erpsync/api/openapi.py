"""`/openapi.json`, generated from the pydantic models that validate bodies and shape responses.

Because the schema is derived, never written by hand, the documentation cannot drift from what the
server accepts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from erpsync import __version__
from erpsync.api.schemas import (
    ChangePage,
    ChangesQuery,
    DriftQuery,
    ErrorBody,
    FindingPage,
    HealthOut,
    HistoryQuery,
    LogPage,
    LogQuery,
    RevertQuery,
    RevertQueued,
    RunOut,
    RunsQuery,
    StoredConfigOut,
    SyncQuery,
    SyncQueued,
    SyncStatusOut,
)
from erpsync.models import CONFIG_ID_PATTERN, SyncConfig

REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel] | dict[str, Any], description: str) -> dict[str, Any]:
    schema = _ref(model) if isinstance(model, type) else model
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "malformed request",
        409: "id already taken, a sync of this config is in progress, or (a revert) the run cannot be reverted",
        401: "missing or wrong bearer token",
        404: "unknown id",
        413: "body larger than allowed",
        422: "body or query fails validation; `details` names each field",
    }
    return {str(status): _json(ErrorBody, reasons[status]) for status in statuses}


def _query_parameters(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema["properties"].items()
        if name not in skip
    ]


@cache
def build_openapi() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (cached: it depends only on the code)."""
    models: list[type[BaseModel]] = [
        SyncConfig,
        StoredConfigOut,
        ErrorBody,
        LogPage,
        HealthOut,
        RunOut,
        SyncQueued,
        RevertQueued,
        SyncStatusOut,
        ChangePage,
        FindingPage,
    ]
    _, defs = models_json_schema(
        [(model, "validation" if model is SyncConfig else "serialization") for model in models],
        by_alias=True,
        ref_template=REF,
    )
    id_param = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": CONFIG_ID_PATTERN},
    }
    run_param = {
        "name": "run_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    config_body = {"required": True, "content": {"application/json": {"schema": _ref(SyncConfig)}}}
    configs_list = {"type": "array", "items": _ref(StoredConfigOut)}
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "PostgreSQL and Redis reachability (no token needed)",
                "security": [],
                "responses": {"200": _json(HealthOut, "all up"), "503": _json(HealthOut, "one is down")},
            }
        },
        "/configs": {
            "get": {
                "summary": "List sync configs",
                "responses": {"200": _json(configs_list, "every config"), **_errors(401)},
            },
            "post": {
                "summary": "Create a sync config",
                "requestBody": config_body,
                "responses": {"201": _json(StoredConfigOut, "created"), **_errors(400, 401, 409, 413, 422)},
            },
        },
        "/configs/{id}": {
            "parameters": [id_param],
            "get": {
                "summary": "One sync config",
                "responses": {"200": _json(StoredConfigOut, "the config"), **_errors(401, 404)},
            },
            "put": {
                "summary": 'Replace a sync config; omitted or "***" secrets keep their stored value',
                "requestBody": config_body,
                "responses": {"200": _json(StoredConfigOut, "replaced"), **_errors(400, 401, 404, 413, 422)},
            },
            "patch": {
                "summary": "Change some fields of a sync config (a JSON merge patch, RFC 7396: null removes "
                'a field); omitted or "***" secrets keep their stored value',
                "requestBody": {
                    "required": True,
                    "content": {
                        media: {"schema": {"type": "object"}}
                        for media in ("application/merge-patch+json", "application/json")
                    },
                },
                "responses": {"200": _json(StoredConfigOut, "changed"), **_errors(400, 401, 404, 413, 422)},
            },
            "delete": {
                "summary": "Delete a sync config and its tracking rows; its runs and log lines are kept "
                "unless purge=true",
                "parameters": [
                    {
                        "name": "purge",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean", "default": False},
                    }
                ],
                "responses": {"204": {"description": "deleted"}, **_errors(400, 401, 404)},
            },
        },
        "/configs/{id}/logs": {
            "parameters": [id_param],
            "get": {
                "summary": "A config's log lines, newest first",
                "parameters": _query_parameters(LogQuery, frozenset({"config_id"})),
                "responses": {"200": _json(LogPage, "a page of lines"), **_errors(400, 401, 404, 422)},
            },
        },
        "/logs": {
            "get": {
                "summary": "Log lines of every config, newest first",
                "parameters": _query_parameters(LogQuery),
                "responses": {"200": _json(LogPage, "a page of lines"), **_errors(401, 422)},
            }
        },
        "/sync/{id}": {
            "parameters": [id_param],
            "post": {
                "summary": "Queue a sync (202); with dry_run=true, answer the plan (200) and write nothing",
                "parameters": _query_parameters(SyncQuery),
                "responses": {
                    "200": {
                        "description": "the plan of a dry run",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "202": _json(SyncQueued, "queued (or already queued: created is false)"),
                    **_errors(401, 404, 409, 422),
                },
            },
        },
        "/sync/status": {
            "get": {
                "summary": "Every config: last run, next run, running now; queue depth",
                "responses": {"200": _json(SyncStatusOut, "status"), **_errors(401)},
            },
        },
        "/runs/{run_id}": {
            "parameters": [run_param],
            "get": {
                "summary": "One run: status, stage, progress, counts, seconds per stage",
                "responses": {"200": _json(RunOut, "the run"), **_errors(401, 404)},
            },
        },
        "/runs/{run_id}/changes": {
            "parameters": [run_param],
            "get": {
                "summary": "What the run did to each product it wrote or removed (unchanged products are "
                "only counted), in order; filter by action and SKU, page on with `after`",
                "parameters": _query_parameters(ChangesQuery),
                "responses": {"200": _json(ChangePage, "a page of the journal"), **_errors(401, 404, 422)},
            },
        },
        "/runs/{run_id}/revert": {
            "parameters": [run_param],
            "post": {
                "summary": "Queue the revert of a finished run as a run of its config (202); with dry_run=true, "
                "answer what it would do and leave alone (200) and write nothing. 404: no such run, or its "
                "config is gone; 409: not finished, a dry run, already reverted, wrote nothing, or the config "
                "has a run queued or running",
                "parameters": _query_parameters(RevertQuery),
                "responses": {
                    "200": {
                        "description": "the plan of a dry revert, with `details.skipped`",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "202": _json(RevertQueued, "queued"),
                    **_errors(401, 404, 409, 422),
                },
            },
        },
        "/configs/{id}/products/{sku}/history": {
            "parameters": [
                id_param,
                {"name": "sku", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}},
            ],
            "get": {
                "summary": "What every run did to the product holding this SKU on any variant, newest first; "
                "page on with `before`",
                "parameters": _query_parameters(HistoryQuery),
                "responses": {
                    "200": _json(ChangePage, "a page of the product's history"),
                    **_errors(400, 401, 404, 422),
                },
            },
        },
        "/configs/{id}/drift": {
            "parameters": [id_param],
            "get": {
                "summary": "What the shop holds of the config's products that erpsync did not write, and what "
                "was done; open findings by default (`state=settled|all`), newest first, page on with `after`",
                "parameters": _query_parameters(DriftQuery),
                "responses": {"200": _json(FindingPage, "a page of findings"), **_errors(401, 404, 422)},
            },
        },
        "/configs/{id}/runs": {
            "parameters": [id_param],
            "get": {
                "summary": "A config's recent runs, newest first",
                "parameters": _query_parameters(RunsQuery),
                "responses": {
                    "200": _json({"type": "array", "items": _ref(RunOut)}, "runs"),
                    **_errors(401, 404, 422),
                },
            },
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text format)",
                "responses": {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(401),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1"}, **_errors(401)},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "erpsync", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
