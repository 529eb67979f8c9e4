"""Encryption of the credentials stored with each sync config.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. The configured `[security] secret_key` may
be any high-entropy string; it is stretched to a Fernet key with SHA-256. Older keys listed in
`previous_keys` still decrypt, so a key can be rotated without downtime.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from erpsync.errors import ConfigError, SecretKeyError

MIN_KEY_LENGTH = 16


def _fernet(secret: SecretStr) -> Fernet:
    value = secret.get_secret_value()
    if len(value) < MIN_KEY_LENGTH:
        raise SecretKeyError(f"[security] secret_key must be at least {MIN_KEY_LENGTH} characters")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()))


class SecretBox:
    """Encrypts with the current key, decrypts with the current or any previous one."""

    def __init__(self, secret_key: SecretStr | None, previous_keys: list[SecretStr] | None = None) -> None:
        self._current = _fernet(secret_key) if secret_key is not None else None
        keys = [self._current] if self._current is not None else []
        keys += [_fernet(key) for key in previous_keys or []]
        self._all = MultiFernet(keys) if keys else None

    def encrypt(self, secrets: dict[str, str]) -> str | None:
        """The secrets as one token; None when there are none to store."""
        if not secrets:
            return None
        if self._current is None:
            raise ConfigError("credentials can only be stored once [security] secret_key is set")
        return self._current.encrypt(orjson.dumps(secrets)).decode()

    def decrypt(self, token: str | None) -> dict[str, str]:
        if token is None:
            return {}
        if self._all is None:
            raise SecretKeyError("stored credentials are encrypted but [security] secret_key is not set")
        try:
            data: Any = orjson.loads(self._all.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SecretKeyError("stored credentials cannot be decrypted with the configured keys") from exc
        return {str(key): str(value) for key, value in data.items()}

    def rotate(self, token: str | None) -> str | None:
        """Re-encrypt a token with the current key."""
        if token is None or self._all is None:
            return token
        return self._all.rotate(token.encode()).decode()
