"""Errors raised while fetching a feed; each names the host and the path, never a secret.

    ErpsyncError                    (erpsync.errors)
    └── SourceError                 the feed could not be fetched
        ├── SourceRefused           nothing listens at host:port             (retryable)
        ├── SourceTimeout           connecting or reading took too long      (retryable)
        ├── SourceCut               the transfer stopped before the end      (retryable)
        ├── SourceUnavailable       the server answered "try later" (5xx)    (retryable)
        ├── SourceAuthError         the server refused the credentials
        ├── SourceNotFound          no file at the path (or no glob match)
        └── SourceTrustError        TLS certificate or SSH host key not trusted

Opening a feed retries the retryable ones a few times; a transfer cut midway is retried by the job
runner, since the records already read cannot be unread.
"""

from __future__ import annotations

from erpsync.errors import ErpsyncError


class SourceError(ErpsyncError):
    """The feed could not be fetched from `host` at `path`."""

    def __init__(self, host: str, path: str, reason: str) -> None:
        super().__init__(f"{host}:{path}: {reason}")
        self.host = host
        self.path = path
        self.reason = reason


class SourceRefused(SourceError):
    """The connection was refused or the host could not be reached."""

    retryable = True


class SourceTimeout(SourceError):
    """The server did not answer within the configured timeout."""

    retryable = True


class SourceCut(SourceError):
    """The transfer ended before the announced size or was reset midway."""

    retryable = True


class SourceUnavailable(SourceError):
    """The server is up but answered with a temporary failure."""

    retryable = True


class SourceAuthError(SourceError):
    """The username, password, key or token was refused."""


class SourceNotFound(SourceError):
    """No file exists at the configured path, or no file matches the glob."""


class SourceTrustError(SourceError):
    """The server's TLS certificate or SSH host key does not match what the config trusts."""
