"""The `ftp` and `ftps` sources: aioftp in passive mode, 256 KiB reads; ftps is explicit TLS (AUTH TLS).

Certificates are verified unless the config says `verify: false`. A glob in filePath lists the
directory (MLSD) and takes the newest match by modification time. The file's modification time and size
(MLST, as MDTM and SIZE would say) are its validator: when both are the previous feed's, nothing is
downloaded.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath

import aioftp

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
    SourceUnavailable,
)

DEFAULT_PORT = 21
_LOGIN_REFUSED = {"530", "430"}
_MISSING = {"550", "450", "553"}


def tls_context(*, verify: bool) -> ssl.SSLContext:
    """The TLS context for ftps (and https): verified unless the config opts out."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _modified(info: Mapping[str, object]) -> datetime | None:
    stamp = info.get("modify")
    if not stamp:
        return None
    try:
        return datetime.strptime(str(stamp)[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


class _FtpSession:
    """One control connection, with every failure translated to a SourceError naming host and path."""

    def __init__(self, config: SyncConfig) -> None:
        credentials = config.credentials
        self.host = credentials.host or ""
        self.port = credentials.port or DEFAULT_PORT
        self.path = credentials.file_path or ""
        self.tls = config.connection_type == "ftps"
        self.verify = credentials.verify
        self.username = credentials.username or "anonymous"
        self.password = credentials.password.get_secret_value() if credentials.password else ""
        self.timeout = credentials.timeout
        self.client = aioftp.Client(
            socket_timeout=self.timeout,
            connection_timeout=self.timeout,
            path_timeout=self.timeout,
            passive_commands=("epsv", "pasv"),
        )

    def translate(self, error: BaseException, *, path: str | None = None) -> SourceError:
        """The SourceError for a low-level failure."""
        where = path or self.path
        if isinstance(error, SourceError):
            return error
        if isinstance(error, aioftp.StatusCodeError):
            codes = {str(code) for code in error.received_codes}
            message = " ".join(error.info).strip() if error.info else str(error)
            if codes & _LOGIN_REFUSED:
                return SourceAuthError(self.host, where, f"login refused ({message})")
            if codes & _MISSING:
                return SourceNotFound(self.host, where, f"no such file ({message})")
            if codes & {"426", "451"}:  # the server gave up mid-transfer: the file arrived cut
                return SourceCut(self.host, where, f"transfer aborted by the server ({message})")
            if any(code.startswith("4") for code in codes):
                return SourceUnavailable(self.host, where, f"server busy ({message})")
            return SourceError(self.host, where, f"server answered {message}")
        if isinstance(error, ssl.SSLCertVerificationError):
            return SourceTrustError(self.host, where, f"TLS certificate not trusted ({error.verify_message})")
        if isinstance(error, asyncio.TimeoutError | TimeoutError):
            return SourceTimeout(self.host, where, f"no answer within {self.timeout:g} s")
        if isinstance(error, ConnectionRefusedError):
            return SourceRefused(self.host, where, f"connection refused on port {self.port}")
        if isinstance(error, ssl.SSLError):
            return SourceTrustError(self.host, where, f"TLS failed ({error.reason})")
        if isinstance(error, ConnectionError | asyncio.IncompleteReadError | EOFError):
            return SourceCut(self.host, where, f"connection lost ({type(error).__name__})")
        if isinstance(error, OSError):
            return SourceRefused(self.host, where, f"cannot connect ({error.strerror or error})")
        return SourceError(self.host, where, f"FTP failed ({type(error).__name__}: {error})")

    async def connect(self) -> None:
        """Connect, upgrade to TLS for ftps, log in."""
        try:
            await self.client.connect(self.host, self.port)
            if self.tls:
                await self.client.upgrade_to_tls(tls_context(verify=self.verify))
            await self.client.login(self.username, self.password)
        except (TimeoutError, aioftp.AIOFTPException, OSError, EOFError) as error:
            self.client.close()
            raise self.translate(error) from error

    async def resolve(self) -> tuple[str, int | None, datetime | None]:
        """The path to download (newest glob match), its size and modification time (to the second)."""
        path = self.path
        try:
            if has_glob(path):
                directory = str(PurePosixPath(path).parent)
                entries = []
                async for entry_path, info in self.client.list(directory):
                    if info.get("type") == "file":
                        modified = _modified(info)
                        entries.append((entry_path.name, modified.timestamp() if modified else 0.0))
                match = newest_match(path, entries)
                if match is None:
                    raise SourceNotFound(self.host, path, "no file matches the pattern")
                path = match
            info = await self.client.stat(path)
        except (TimeoutError, aioftp.AIOFTPException, OSError, EOFError) as error:
            raise self.translate(error, path=path) from error
        if info.get("type") == "dir":
            raise SourceNotFound(self.host, path, "is a directory, not a file")
        size = int(info["size"]) if str(info.get("size", "")).isdigit() else None
        return path, size, _modified(info)

    async def blocks(self, path: str) -> AsyncIterator[bytes]:
        """The file's bytes in blocks of BLOCK_SIZE."""
        try:
            async with self.client.download_stream(path) as stream:
                async for block in stream.iter_by_block(BLOCK_SIZE):
                    yield block
        except (TimeoutError, aioftp.AIOFTPException, OSError, EOFError) as error:
            raise self.translate(error, path=path) from error

    async def close(self) -> None:
        """Say goodbye politely, but never let closing fail the run."""
        try:
            await asyncio.wait_for(self.client.quit(), timeout=5)
        except (TimeoutError, aioftp.AIOFTPException, OSError, EOFError):
            pass
        finally:
            self.client.close()


@asynccontextmanager
async def open_ftp(config: SyncConfig, *, previous: FeedInfo | None = None) -> AsyncIterator[FeedStream]:
    """Stream a file from an FTP or FTPS server."""
    session = _FtpSession(config)
    await session.connect()
    try:
        path, size, modified = await session.resolve()
        validator = None
        if size is not None and modified is not None:
            validator = {"path": path, "size": size, "modified": modified.isoformat()}
        if same_file(previous, validator):
            yield FeedStream(no_bytes(), name=path, host=session.host, not_modified=True, validator=validator)
            return
        yield FeedStream(
            session.blocks(path),
            name=path,
            host=session.host,
            expected_size=size,
            mtime=modified,
            validator=validator,
        )
    finally:
        await session.close()
