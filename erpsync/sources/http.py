"""The `http` source: aiohttp GET with the config's headers and basic auth, streamed in 256 KiB chunks.

When the previous good run left an ETag or Last-Modified, the request is conditional; a 304 gives a
stream marked `not_modified` with no bytes, and the run can stop there.

Redirects are followed by hand, at most MAX_REDIRECTS of them. aiohttp would follow any target, private
ones included, and keep every custom header on the way (only Authorization is dropped when the host
changes), so an API key would reach whatever host the feed server names. Here each target is held to
the source policy before it is requested, and the config's headers and basic auth are sent only to the
config's own origin (scheme, host and port): another origin gets the conditional headers alone.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from erpsync.models import SyncConfig
from erpsync.sources.base import BLOCK_SIZE, FeedInfo, FeedStream
from erpsync.sources.errors import (
    SourceAuthError,
    SourceCut,
    SourceError,
    SourceNotFound,
    SourceRefused,
    SourceTimeout,
    SourceTrustError,
    SourceUnavailable,
)
from erpsync.sources.policy import SourceForbidden, SourcePolicy

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_LATER = {408, 425, 429, 500, 502, 503, 504}


def _status_error(status: int, reason: str, host: str, path: str) -> SourceError:
    text = f"HTTP {status} {reason}".strip()
    if status in {401, 403}:
        return SourceAuthError(host, path, f"access refused ({text})")
    if status in {404, 410}:
        return SourceNotFound(host, path, f"no such file ({text})")
    if status in _RETRY_LATER:
        return SourceUnavailable(host, path, f"server unavailable ({text})")
    return SourceError(host, path, f"unexpected answer ({text})")


def _translate(error: BaseException, host: str, path: str, timeout: float) -> SourceError:
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return SourceTrustError(host, path, f"TLS certificate not trusted ({error.certificate_error})")
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return SourceRefused(host, path, "connection refused")
        return SourceRefused(host, path, f"cannot connect ({error.os_error.strerror or error.os_error})")
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        return SourceTrustError(host, path, f"TLS failed ({error})")
    if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
        return SourceTimeout(host, path, f"no answer within {timeout:g} s")
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | ConnectionError):
        return SourceCut(host, path, f"transfer cut midway ({type(error).__name__})")
    return SourceError(host, path, f"HTTP failed ({type(error).__name__}: {error})")


@asynccontextmanager
async def open_http(
    config: SyncConfig, *, previous: FeedInfo | None = None, policy: SourcePolicy | None = None
) -> AsyncIterator[FeedStream]:
    """Stream the body of a GET on the config's URL; `policy` (the daemon's) vets every redirect."""
    credentials = config.credentials
    url = credentials.url or ""
    parts = urlsplit(url)
    # The query may carry a token: errors name the host and the path only.
    host, path = parts.hostname or "", parts.path or "/"
    timeout = credentials.timeout
    secrets = {name: value.get_secret_value() for name, value in credentials.headers.items()}
    validators: dict[str, str] = {}
    if previous is not None and previous.etag:
        validators["If-None-Match"] = previous.etag
    if previous is not None and previous.last_modified:
        validators["If-Modified-Since"] = previous.last_modified
    if credentials.username:
        password = credentials.password.get_secret_value() if credentials.password else ""
        # Built by hand: aiohttp.BasicAuth is deprecated. RFC 7617 allows UTF-8 credentials.
        token = base64.b64encode(f"{credentials.username}:{password}".encode()).decode("ascii")
        secrets["Authorization"] = f"Basic {token}"
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
    )
    try:
        response = await _follow(
            session, URL(url), secrets=secrets, validators=validators, config=config, policy=policy
        )
        async with response:
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            if response.status == 304:
                yield FeedStream(
                    _no_bytes(), name=path, host=host, etag=etag or (previous.etag if previous else None),
                    last_modified=last_modified, not_modified=True,
                    validator=previous.validator if previous else None,
                )  # fmt: skip
                return
            if response.status >= 300:
                # After a redirect the answer is the last host's: the error names that host and path.
                last_host, last_path = response.url.host or host, response.url.path or path
                raise _status_error(response.status, response.reason or "", last_host, last_path)
            # With a Content-Encoding, aiohttp inflates the body and Content-Length no longer applies.
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            modified = None
            if last_modified:
                try:
                    modified = parsedate_to_datetime(last_modified)
                except (TypeError, ValueError):
                    modified = None
            yield FeedStream(
                _chunks(response, host, path, timeout),
                name=path,
                host=host,
                expected_size=None if encoded else response.content_length,
                mtime=modified,
                etag=etag,
                last_modified=last_modified,
                validator={"etag": etag, "last_modified": last_modified} if etag or last_modified else None,
            )
    finally:
        await session.close()


async def _follow(
    session: aiohttp.ClientSession,
    url: URL,
    *,
    secrets: dict[str, str],
    validators: dict[str, str],
    config: SyncConfig,
    policy: SourcePolicy | None,
) -> aiohttp.ClientResponse:
    """The answer of a GET on `url` once redirects are followed: each target vetted by the policy, the
    config's `secrets` (its headers and basic auth) sent only to the config's own origin."""
    origin = url.origin()
    for _ in range(MAX_REDIRECTS + 1):
        host, path = url.host or "", url.path or "/"
        headers = {**validators, **secrets} if url.origin() == origin else dict(validators)
        try:
            response = await session.get(
                url, headers=headers, ssl=config.credentials.verify, allow_redirects=False
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _translate(error, host, path, config.credentials.timeout) from error
        location = response.headers.get("Location")
        if response.status not in _REDIRECTS or location is None:
            return response
        response.release()
        url = _redirect_target(url, location)
        if policy is not None:
            try:
                await policy.check_url(str(url))
            except SourceForbidden as refused:
                reason = f"{refused.reason} (redirected from {host}:{path})"
                raise SourceForbidden(refused.host, refused.path, reason) from None
    raise SourceError(host, path, f"more than {MAX_REDIRECTS} redirects in a row")


def _redirect_target(current: URL, location: str) -> URL:
    """Where a `Location` leads from `current` (it may be relative); only to http and https."""
    host, path = current.host or "", current.path or "/"
    try:
        target = current.join(URL(location))
    except ValueError:
        raise SourceError(host, path, "redirected to an address that is not a URL") from None
    if target.scheme not in {"http", "https"} or not target.host:
        # The scheme alone: the rest of the Location may carry a token.
        raise SourceForbidden(host, path, f"redirected to a {target.scheme}: address, not http or https")
    return target


async def _chunks(
    response: aiohttp.ClientResponse, host: str, path: str, read_timeout: float
) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_chunked(BLOCK_SIZE):
            yield chunk
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        raise _translate(error, host, path, read_timeout) from error


async def _no_bytes() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk
