"""Stored credentials: encrypted with the configured key, readable after a key rotation, refused otherwise."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from erpsync.crypto import SecretBox
from erpsync.errors import ConfigError, SecretKeyError

OLD, NEW = SecretStr("old-key-0123456789abcdef"), SecretStr("new-key-0123456789abcdef")


def test_round_trip_and_rotation() -> None:
    """Secrets written under the old key still decrypt once the new key is current and the old one listed."""
    token = SecretBox(OLD).encrypt({"credentials.password": "p4ss"})
    assert token is not None
    assert "p4ss" not in token
    rotated_box = SecretBox(NEW, [OLD])
    assert rotated_box.decrypt(token) == {"credentials.password": "p4ss"}
    rotated = rotated_box.rotate(token)
    assert SecretBox(NEW).decrypt(rotated) == {"credentials.password": "p4ss"}


def test_wrong_key_is_a_clear_error() -> None:
    """A key that does not match says so instead of returning garbage or crashing."""
    token = SecretBox(OLD).encrypt({"credentials.password": "p4ss"})
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        SecretBox(NEW).decrypt(token)


def test_no_key_refuses_to_store_secrets() -> None:
    """Without [security] secret_key a password is never written in clear: the save is refused."""
    with pytest.raises(ConfigError, match="secret_key"):
        SecretBox(None).encrypt({"credentials.password": "p4ss"})
    assert SecretBox(None).encrypt({}) is None


def test_short_key_is_refused() -> None:
    """A guessable key is refused at start-up."""
    with pytest.raises(SecretKeyError, match="at least"):
        SecretBox(SecretStr("short"))
