"""Constants and helpers shared by the tests (imported by name; conftest modules are not importable)."""

from __future__ import annotations

import os

ADMIN_DSN = os.environ.get("ERPSYNC_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ERPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
API_TOKEN = "test-api-token-5f1c9a"
SECRET_KEY = "test-secret-key-0123456789abcdef"
SIM_TOKEN = "shpat_simulated_token"


def dsn_for(database: str) -> str:
    """The admin DSN pointed at another database."""
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"
