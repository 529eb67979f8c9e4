"""Staged uploads and bulk mutations: the JSONL file, its lines run one by one, the result file.

``stagedUploadsCreate`` hands out a target on the simulator itself; ``bulkOperationRunMutation`` checks the
mutation and the file, then a task runs each line as its own request at ``bulk_rate`` lines per second, in
no particular order, and writes one result line per input line with its 0-based ``__lineNumber``
(the lines themselves: ``shopify_simulator.bulk_lines``).
https://shopify.dev/docs/api/usage/bulk-operations/imports
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import hmac
import random
import uuid
from typing import Any

import orjson
from graphql import FieldNode

from shopify_simulator.bulk_lines import run_mutation_lines, split_jsonl
from shopify_simulator.busy import busy_error
from shopify_simulator.context import ExecutionContext
from shopify_simulator.export import run_query_export, validate_bulk_query
from shopify_simulator.lifecycle import (
    ACTIVE_STATUSES,
    RESULT_PATH_PREFIX,
    StopStatus,
    fail_export,
    finish,
)
from shopify_simulator.options import SimulatorOptions
from shopify_simulator.schema import (
    PreparedRequest,
    RequestRefused,
    prepare_document,
)
from shopify_simulator.state import BulkOperation, ShopState, StagedFile, utc_now
from shopify_simulator.stats import Faults, Stats

__all__ = ["ACTIVE_STATUSES", "RESULT_PATH_PREFIX", "STAGED_UPLOAD_PATH", "BulkManager"]

STAGED_UPLOAD_PATH = "/_staged/upload"
BULK_ONLY_MUTATIONS = frozenset({"bulkOperationRunMutation", "bulkOperationRunQuery"})
STAGED_POLICY_LIFETIME = datetime.timedelta(hours=24)


def _user_error(field: list[str] | None, message: str, code: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        body["code"] = code
    return body


class BulkManager:
    """Owns staged files, bulk operations and the tasks that run them."""

    def __init__(self, *, state: ShopState, options: SimulatorOptions, stats: Stats, faults: Faults) -> None:
        self.state = state
        self.options = options
        self.stats = stats
        self.faults = faults
        self.secret = uuid.uuid4().bytes
        self.random = random.Random(options.bulk_random_seed)  # noqa: S311 - line order, not security
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stops: dict[str, StopStatus] = {}  # how an operation stopped by a fault ends

    def run_context(
        self,
        operation: BulkOperation,
        base_url: str,
        *,
        bulk_mutation: bool = False,
        bulk_query: bool = False,
    ) -> ExecutionContext:
        """What an operation's own lines or export run with: the shop, its stats and faults, and no
        bulk manager of their own."""
        return ExecutionContext(
            state=self.state,
            options=self.options,
            stats=self.stats,
            faults=self.faults,
            base_url=base_url,
            api_version=operation.api_version,
            bulk=None,
            bulk_mutation=bulk_mutation,
            bulk_query=bulk_query,
        )

    # --- staged uploads --------------------------------------------------------------------------------

    def sign(self, policy: str) -> str:
        """The signature of a policy, checked when the file arrives."""
        return hmac.new(self.secret, policy.encode(), hashlib.sha256).hexdigest()

    def create_staged_targets(
        self, context: ExecutionContext, inputs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """``stagedUploadsCreate``: a POST target per input, parameters in the documented order."""
        targets: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, entry in enumerate(inputs):
            if entry["resource"] != "BULK_MUTATION_VARIABLES":
                errors.append(
                    _user_error(
                        ["input", str(index), "resource"],
                        f"Staged uploads for {entry['resource']} are not simulated by the erpsync simulator",
                        None,
                    )
                )
                continue
            if entry.get("httpMethod", "PUT") != "POST":
                # The default is PUT (schema); the bulk guide's targets take a multipart POST.
                errors.append(
                    _user_error(
                        ["input", str(index), "httpMethod"],
                        "Only POST staged uploads are simulated for BULK_MUTATION_VARIABLES",
                        None,
                    )
                )
                continue
            now = utc_now()
            key = f"tmp/1/bulk/{uuid.uuid4()}/bulk_op_vars"
            self.state.staged_files[key] = StagedFile(
                key=key, filename=entry["filename"], mime_type=entry["mimeType"], created_at=now
            )
            date = now.strftime("%Y%m%dT%H%M%SZ")
            policy_document = {
                "expiration": (now + STAGED_POLICY_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "conditions": [
                    ["eq", "$key", key],
                    ["eq", "$Content-Type", entry["mimeType"]],
                    ["content-length-range", 1, self.options.max_upload_bytes],
                ],
            }
            policy = base64.b64encode(orjson.dumps(policy_document)).decode()
            # Parameter order as in the documented example. https://shopify.dev/docs/api/usage/bulk-operations/imports
            parameters = [
                ("key", key),
                ("Content-Type", entry["mimeType"]),
                ("success_action_status", "201"),
                ("acl", "private"),
                ("policy", policy),
                ("x-goog-credential", f"simulator/{now:%Y%m%d}/auto/storage/goog4_request"),
                ("x-goog-algorithm", "GOOG4-RSA-SHA256"),
                ("x-goog-date", date),
                ("x-goog-signature", self.sign(policy)),
            ]
            targets.append(
                {
                    "url": f"{context.base_url}{STAGED_UPLOAD_PATH}",
                    "resourceUrl": None,
                    "parameters": [{"name": name, "value": value} for name, value in parameters],
                }
            )
        return {"stagedTargets": targets, "userErrors": errors}

    # --- bulk mutation ---------------------------------------------------------------------------------

    def _limit_error(self, context: ExecutionContext, operation_type: str) -> dict[str, Any] | None:
        active = [o for o in self.state.bulk_operations.values() if o.status in ACTIVE_STATUSES]
        refusal = busy_error(active, self.options, context.api_version, operation_type)
        if refusal is not None:
            self.stats.bulk_busy += 1
            self.stats.bulk_refused[operation_type] += 1
        return refusal

    def _check_mutation(self, mutation: str) -> tuple[PreparedRequest | None, dict[str, Any] | None]:
        try:
            # Variables come per line, so only the document is checked here.
            prepared = prepare_document(mutation)
        except RequestRefused as refused:
            return None, _user_error(["mutation"], refused.errors[0]["message"], "INVALID_MUTATION")
        operation = prepared.operation
        if operation.operation.value != "mutation":
            return None, _user_error(["mutation"], "The operation must be a mutation.", "INVALID_MUTATION")
        fields = [node for node in operation.selection_set.selections if isinstance(node, FieldNode)]
        if len(fields) != 1:
            return None, _user_error(
                ["mutation"], "The mutation must call exactly one field.", "INVALID_MUTATION"
            )
        name = fields[0].name.value
        if name in BULK_ONLY_MUTATIONS:
            return None, _user_error(
                ["mutation"], f"{name} cannot run in a bulk operation.", "INVALID_MUTATION"
            )
        from shopify_simulator.resolvers import MUTATION_ROOT

        if name not in MUTATION_ROOT:
            return None, _user_error(
                ["mutation"], f"Mutation.{name} is not simulated by the erpsync simulator", "INVALID_MUTATION"
            )
        return prepared, None

    def run_mutation(
        self, context: ExecutionContext, mutation: str, staged_upload_path: str
    ) -> dict[str, Any]:
        """``bulkOperationRunMutation``: check, create the operation, start its task."""
        prepared, error = self._check_mutation(mutation)
        if error is None:
            staged = self.state.staged_files.get(staged_upload_path)
            if staged is None or staged.content is None:
                error = _user_error(
                    ["stagedUploadPath"],
                    "The JSONL file could not be found. Try uploading the file again.",
                    "NO_SUCH_FILE",
                )
            elif len(staged.content) > self.options.max_upload_bytes:
                error = _user_error(
                    ["stagedUploadPath"], "The JSONL file is too large.", "INVALID_STAGED_UPLOAD_FILE"
                )
            else:
                try:
                    staged.content.decode("utf-8")
                except UnicodeDecodeError:
                    error = _user_error(
                        ["stagedUploadPath"],
                        "The JSONL file is not valid UTF-8.",
                        "INVALID_STAGED_UPLOAD_FILE",
                    )
        if error is None:
            error = self._limit_error(context, "MUTATION")
        if error is not None or prepared is None:
            return {"bulkOperation": None, "userErrors": [error]}
        content = self.state.staged_files[staged_upload_path].content or b""
        operation = self._new_operation("MUTATION", mutation, context.api_version, staged_upload_path)
        root = prepared.operation.selection_set.selections[0]
        if isinstance(root, FieldNode):
            self.stats.bulk_mutations[root.name.value] += 1
        fail_after, stop = self.faults.take_bulk_stop()
        if stop is not None:
            self.stops[operation.id] = stop
        lines = split_jsonl(content.decode("utf-8"), self.options)
        self._start(
            operation,
            run_mutation_lines(
                self, operation, prepared=prepared, lines=lines, context=context, fail_after=fail_after
            ),
        )
        from shopify_simulator.views import bulk_operation_view

        return {"bulkOperation": bulk_operation_view(operation, context), "userErrors": []}

    def _new_operation(
        self, operation_type: str, query: str, api_version: str, path: str | None
    ) -> BulkOperation:
        operation = BulkOperation(
            id=self.state.new_id("BulkOperation"),
            type=operation_type,
            query=query,
            api_version=api_version,
            status="CREATED",
            created_at=utc_now(),
            staged_upload_path=path,
        )
        self.state.bulk_operations[operation.id] = operation
        self.stats.bulk_operations[operation_type] += 1
        return operation

    def _start(self, operation: BulkOperation, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"bulk-{operation.id}")
        self.tasks[operation.id] = task
        task.add_done_callback(lambda _task: self.tasks.pop(operation.id, None))

    async def pace(self, started: float, done: int, rate: float) -> None:
        """Wait until item ``done`` (counted from 0) has taken its share of the rate, so even a one-line
        operation runs for ``1 / rate`` seconds, as a real one is seen RUNNING before it completes; yield to the
        loop now and then even when fast."""
        loop = asyncio.get_running_loop()
        delay = started + (done + 1) / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif done % 10 == 0:  # keep polls and other shops answered while a big file runs
            await asyncio.sleep(0)

    def finish(self, operation: BulkOperation, results: list[bytes], *, failed: bool) -> None:
        """Store the result file and set the final status (``lifecycle.finish``)."""
        stop: StopStatus | None = self.stops.pop(operation.id, "FAILED") if failed else None
        finish(self.state, operation, results, stopped=stop)

    # --- bulk query ------------------------------------------------------------------------------------

    def run_query(self, context: ExecutionContext, query: str, group_objects: bool) -> dict[str, Any]:
        """``bulkOperationRunQuery``: check the documented restrictions, then export in a task."""
        try:
            prepared = prepare_document(query)
        except RequestRefused as refused:
            return {
                "bulkOperation": None,
                "userErrors": [_user_error(["query"], refused.errors[0]["message"], "INVALID")],
            }
        problem = validate_bulk_query(prepared)
        if problem is not None:
            return {"bulkOperation": None, "userErrors": [_user_error(["query"], problem, "INVALID")]}
        limit = self._limit_error(context, "QUERY")
        if limit is not None:
            return {"bulkOperation": None, "userErrors": [limit]}
        operation = self._new_operation("QUERY", query, context.api_version, None)
        export_error = self.faults.take_export_failure()
        if export_error is not None:
            self._start(operation, fail_export(self.state, operation, export_error))
        else:
            self._start(
                operation, run_query_export(self, operation, prepared, context, group_objects=group_objects)
            )
        from shopify_simulator.views import bulk_operation_view

        return {"bulkOperation": bulk_operation_view(operation, context), "userErrors": []}

    # --- cancel and shutdown ---------------------------------------------------------------------------

    def cancel(self, context: ExecutionContext, operation_id: str) -> dict[str, Any]:
        """``bulkOperationCancel``: CANCELING now, CANCELED when the task stops; finished ones stay as they are."""
        from shopify_simulator.views import bulk_operation_view

        operation = self.state.bulk_operations.get(operation_id)
        if operation is None:
            return {
                "bulkOperation": None,
                "userErrors": [_user_error(["id"], "Bulk operation does not exist", None)],
            }
        errors: list[dict[str, Any]] = []
        if operation.status in ("CREATED", "RUNNING"):
            operation.status = "CANCELING"
        elif operation.status != "CANCELING":
            errors.append(
                _user_error(
                    None,
                    f"A bulk operation cannot be canceled when it is {operation.status.lower()}",
                    None,
                )
            )
        return {"bulkOperation": bulk_operation_view(operation, context), "userErrors": errors}

    async def close(self) -> None:
        """Stop every running operation (server shutdown); they end FAILED as Shopify would stop them."""
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for operation in self.state.bulk_operations.values():
            if operation.status in ACTIVE_STATUSES:
                operation.status = "FAILED"
                operation.error_code = "INTERNAL_SERVER_ERROR"
                operation.completed_at = utc_now()
