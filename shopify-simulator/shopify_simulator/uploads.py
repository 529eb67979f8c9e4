"""The staged upload target: a multipart POST in the cloud-storage style Shopify's targets use.

Every parameter from ``stagedUploadsCreate`` comes as a form field, the file **last** in field ``file``;
the signed policy caps the size (no empty file either). Success answers ``success_action_status`` (201)
with a small XML ``PostResponse``; errors are storage-style XML with HTTP 400 or 403.
https://shopify.dev/docs/api/usage/bulk-operations/imports
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import orjson
from aiohttp import BodyPartReader, web

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.state import ShopState, utc_now

if TYPE_CHECKING:
    from shopify_simulator.bulk import BulkManager

REQUIRED_PARAMETERS = ("key", "policy", "x-goog-signature")
READ_CHUNK = 1 << 16


def storage_error(code: str, message: str, *, status: int = 400, extra: str = "") -> web.Response:
    """An error as the storage answers it."""
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}</Error>"
    )
    return web.Response(status=status, content_type="application/xml", text=body)


async def _read_form(
    request: web.Request, max_bytes: int
) -> tuple[dict[str, str], bytes | None] | web.Response:
    """The form fields in order and the file, or the storage's refusal."""
    reader = await request.multipart()
    fields: dict[str, str] = {}
    content: bytes | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            return storage_error("InvalidArgument", "Nested multipart bodies are not accepted.")
        if content is not None:
            # The file must be the last field. https://shopify.dev/docs/api/usage/bulk-operations/imports
            return storage_error("InvalidArgument", "The file must be the last field of the form.")
        if part.name != "file":
            fields[part.name or ""] = (await part.read()).decode("utf-8")
            continue
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(READ_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return storage_error(
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size.",
                    extra=f"<MaxSizeAllowed>{max_bytes}</MaxSizeAllowed>",
                )
            chunks.append(chunk)
        content = b"".join(chunks)
    return fields, content


async def handle_staged_upload(
    request: web.Request, state: ShopState, bulk: BulkManager, options: SimulatorOptions
) -> web.StreamResponse:
    """Store the posted file under its ``key`` if the form is well made and the policy holds."""
    if request.content_type != "multipart/form-data":
        return storage_error("InvalidArgument", "POST requires multipart/form-data.")
    form = await _read_form(request, options.max_upload_bytes)
    if isinstance(form, web.Response):
        return form
    fields, content = form
    if content is None:
        return storage_error("InvalidArgument", "Missing the file field.")
    missing = [name for name in REQUIRED_PARAMETERS if name not in fields]
    if missing:
        return storage_error("InvalidArgument", f"Missing form fields: {', '.join(missing)}.")
    policy = fields["policy"]
    if not hmac.compare_digest(bulk.sign(policy), fields["x-goog-signature"]):
        return storage_error("AccessDenied", "The request signature does not match.", status=403)
    conditions = orjson.loads(base64.b64decode(policy))["conditions"]
    expected_key = next(condition[2] for condition in conditions if condition[:2] == ["eq", "$key"])
    if fields["key"] != expected_key or expected_key not in state.staged_files:
        return storage_error("AccessDenied", "The key does not match the signed policy.", status=403)
    if not content:
        return storage_error(
            "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size."
        )
    staged = state.staged_files[expected_key]
    staged.content = content
    bulk.stats.uploaded_bytes.append(len(content))
    staged.uploaded_at = utc_now()
    status = fields.get("success_action_status")
    if status == "201":
        etag = hashlib.md5(content, usedforsecurity=False).hexdigest()
        location = f"{request.scheme}://{request.host}/{expected_key}"
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><PostResponse>"
            f"<Location>{escape(location)}</Location><Bucket>shopify-staged-uploads</Bucket>"
            f'<Key>{escape(expected_key)}</Key><ETag>"{etag}"</ETag></PostResponse>'
        )
        return web.Response(status=201, content_type="application/xml", text=body)
    return web.Response(status=204)
