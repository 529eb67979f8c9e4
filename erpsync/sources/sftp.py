"""The `sftp` source: asyncssh with a password or a private key; the host key is always checked.

The server's key must match `host_key_fingerprint` ("SHA256:..." as `ssh-keygen -lf` prints it) or
be listed in `known_hosts` (a file path or the file's text); with neither, ~/.ssh/known_hosts is used.
The file's stat (size and mtime; SFTP v3 has no inode) is its validator: when it is the previous feed's,
the file is not opened.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, cast

import asyncssh

from erpsync.models import SyncConfig
from erpsync.sources.base import (
    BLOCK_SIZE,
    FeedInfo,
    FeedStream,
    has_glob,
    newest_match,
    no_bytes,
    same_file,
)
from erpsync.sources.errors import (
    SourceAuthError,
    SourceCut,
    SourceError,
    SourceNotFound,
    SourceRefused,
    SourceTimeout,
    SourceTrustError,
)

DEFAULT_PORT = 22


class _FingerprintClient(asyncssh.SSHClient):
    """Trusts exactly the host key with the configured fingerprint."""

    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint.strip()

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Compare with the fingerprint in the hash the config wrote it in."""
        algorithm = "md5" if self._fingerprint.upper().startswith("MD5:") else "sha256"
        return bool(key.get_fingerprint(algorithm) == self._fingerprint)


def _translate(error: BaseException, host: str, path: str, port: int, timeout: float) -> SourceError:
    if isinstance(error, SourceError):
        return error
    if isinstance(error, asyncssh.PermissionDenied):
        return SourceAuthError(host, path, "login refused")
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return SourceTrustError(host, path, f"host key not trusted ({error.reason})")
    if isinstance(error, asyncssh.SFTPNoSuchFile):
        return SourceNotFound(host, path, "no such file")
    if isinstance(error, asyncssh.SFTPPermissionDenied):
        return SourceAuthError(host, path, "permission denied")
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return SourceTimeout(host, path, f"no answer within {timeout:g} s")
    if isinstance(error, ConnectionRefusedError):
        return SourceRefused(host, path, f"connection refused on port {port}")
    if isinstance(error, asyncssh.ConnectionLost | asyncssh.DisconnectError | ConnectionError | EOFError):
        return SourceCut(host, path, f"connection lost ({type(error).__name__})")
    if isinstance(error, OSError):
        return SourceRefused(host, path, f"cannot connect ({error.strerror or error})")
    return SourceError(host, path, f"SFTP failed ({type(error).__name__}: {error})")


def _connect_options(config: SyncConfig) -> dict[str, Any]:
    credentials = config.credentials
    options: dict[str, Any] = {
        "username": credentials.username,
        "connect_timeout": credentials.timeout,
        "login_timeout": credentials.timeout,
        # Only what the config names is used: no agent, no keys picked up from ~/.ssh.
        "agent_path": None,
        "client_keys": None,
    }
    if credentials.password is not None:
        options["password"] = credentials.password.get_secret_value()
    if credentials.private_key is not None:
        passphrase = credentials.passphrase.get_secret_value() if credentials.passphrase else None
        options["client_keys"] = [
            asyncssh.import_private_key(credentials.private_key.get_secret_value(), passphrase)
        ]
    if credentials.host_key_fingerprint:
        fingerprint = credentials.host_key_fingerprint
        # Empty trusted-key lists make asyncssh ask the client object about every key.
        options["known_hosts"] = ([], [], [])
        options["client_factory"] = lambda: _FingerprintClient(fingerprint)
        options["server_host_key_algs"] = "default"
    elif credentials.known_hosts:
        known = credentials.known_hosts
        options["known_hosts"] = known if os.path.exists(known) else asyncssh.import_known_hosts(known)
    return options


@asynccontextmanager
async def open_sftp(config: SyncConfig, *, previous: FeedInfo | None = None) -> AsyncIterator[FeedStream]:
    """Stream a file from an SFTP server."""
    credentials = config.credentials
    host, port = credentials.host or "", credentials.port or DEFAULT_PORT
    path, timeout = credentials.file_path or "", credentials.timeout
    try:
        connection = await asyncssh.connect(host, port, **_connect_options(config))
    except (TimeoutError, asyncssh.Error, OSError, EOFError) as error:
        raise _translate(error, host, path, port, timeout) from error
    try:
        try:
            sftp = await connection.start_sftp_client()
            path = await _resolve(sftp, host, path)
            attributes = await sftp.stat(path)
            if attributes.permissions is not None and stat.S_ISDIR(attributes.permissions):
                raise SourceNotFound(host, path, "is a directory, not a file")
            validator = _validator(path, attributes)
            unchanged = same_file(previous, validator)
            handle = None if unchanged else await sftp.open(path, "rb")
        except (TimeoutError, asyncssh.Error, OSError, EOFError) as error:
            raise _translate(error, host, path, port, timeout) from error
        if handle is None:
            yield FeedStream(no_bytes(), name=path, host=host, not_modified=True, validator=validator)
            return
        modified = datetime.fromtimestamp(attributes.mtime, UTC) if attributes.mtime is not None else None
        try:
            yield FeedStream(
                _blocks(handle, host, path, port, timeout),
                name=path,
                host=host,
                expected_size=attributes.size,
                mtime=modified,
                validator=validator,
            )
        finally:
            await handle.close()
    finally:
        connection.close()


def _validator(path: str, attributes: asyncssh.SFTPAttrs) -> dict[str, Any] | None:
    if attributes.size is None or attributes.mtime is None:
        return None
    return {"path": path, "size": attributes.size, "mtime": attributes.mtime, "mtime_ns": attributes.mtime_ns}


async def _resolve(sftp: asyncssh.SFTPClient, host: str, path: str) -> str:
    if not has_glob(path):
        return path
    directory = str(PurePosixPath(path).parent)
    entries = [
        (str(entry.filename), float(entry.attrs.mtime or 0))
        for entry in await sftp.readdir(directory)
        if entry.attrs.permissions is not None and stat.S_ISREG(entry.attrs.permissions)
    ]
    match = newest_match(path, entries)
    if match is None:
        raise SourceNotFound(host, path, "no file matches the pattern")
    return match


async def _blocks(
    handle: asyncssh.SFTPClientFile, host: str, path: str, port: int, read_timeout: float
) -> AsyncIterator[bytes]:
    try:
        while block := await handle.read(BLOCK_SIZE):
            # Opened in binary mode, so every block is bytes.
            yield cast(bytes, block)
    except (TimeoutError, asyncssh.Error, OSError, EOFError) as error:
        raise _translate(error, host, path, port, read_timeout) from error
