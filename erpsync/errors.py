"""One error tree for erpsync; each class says whether retrying can help.

    ErpsyncError                      retryable = False unless a subclass says so
    ├── SettingsError                 a bad setting, named with where it came from
    ├── ConfigError                   a sync config that cannot be used
    │   ├── ConfigNotFound
    │   └── SyncBusy                  another process syncs this config now        (locks.py)
    ├── DatabaseError                 PostgreSQL unreachable or refusing      (retryable)
    ├── LockLost                      PostgreSQL cut the session holding a run's lock (locks.py)
    ├── MigrationError                a migration failed; nothing after it applied
    ├── SecretKeyError                stored credentials cannot be decrypted with the key
    ├── ListenError                   the API cannot listen on its address      (retryable)
    ├── RevertRefused                 a run that cannot be reverted, and why          (revert.py)
    ├── SourceError                   the feed could not be fetched            (sources/errors.py)
    │   ├── SourceRefused, SourceTimeout, SourceCut, SourceUnavailable         (retryable)
    │   ├── SourceAuthError, SourceNotFound, SourceTrustError
    │   └── SourceForbidden           a place the source policy does not allow (sources/policy.py)
    ├── FeedError                     the feed's bytes are not what they claim (feeds/errors.py)
    │   ├── FeedFormatError
    │   │   └── FeedEncodingError, FeedCompressionError, UnsafeFeedError
    │   ├── FeedLayoutError
    │   └── FeedLimitError
    └── ShopifyError                  Shopify refused or failed                (shopify/errors.py)
        ├── ShopifyAuthError, ShopifyShopUnavailable, ShopifyUserErrors
        ├── ShopifyRequestError
        │   └── ShopifyCostExceeded
        ├── ShopifyTransientError                                              (retryable)
        │   └── ShopifyThrottled, ShopifyRetriesExhausted
        └── BulkOperationError
            └── BulkLimitReached

Errors are translated only at the edges: the job runner (retry or fail the run), the web middleware
(JSON error body) and the CLI (one line on stderr, no traceback, a documented exit status).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class ErpsyncError(Exception):
    """Base of every error erpsync raises on purpose."""

    retryable: bool = False


class SettingsError(ErpsyncError):
    """A setting is missing or invalid; the message names the key and where its value came from."""


class ConfigError(ErpsyncError):
    """A sync config is invalid or inconsistent with the settings."""


class ConfigNotFound(ConfigError):
    """No sync config has this id."""

    def __init__(self, config_id: str) -> None:
        super().__init__(f"no sync config with id {config_id!r}")
        self.config_id = config_id


class DatabaseError(ErpsyncError):
    """PostgreSQL is unreachable or refused a statement for a reason outside our control."""

    retryable = True


class MigrationError(ErpsyncError):
    """A migration file failed; its transaction was rolled back."""


class SecretKeyError(ErpsyncError):
    """Stored credentials were encrypted with a key that is not configured."""


class ListenError(ErpsyncError):
    """The API cannot listen on its host and port: taken by another process, or not this host's."""

    retryable = True


@contextlib.contextmanager
def first_error() -> Iterator[None]:
    """Concurrent work fails as its first erpsync error, not as an ExceptionGroup the edges don't know."""
    try:
        yield
    except ExceptionGroup as group:
        first = next((error for error in group.exceptions if isinstance(error, ErpsyncError)), None)
        if first is None:
            raise
        raise first from group
