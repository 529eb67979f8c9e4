"""Settings: the file found where documented, environment overrides, and one clear line when wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from erpsync.errors import SettingsError
from erpsync.settings import load_settings

ENV_NAMES = (
    "ERPSYNC_CONFIG",
    "DATABASE_URL",
    "REDIS_URL",
    "PORT",
    "SHOPIFY_SHOP",
    "SHOPIFY_API_VERSION",
    "SHOPIFY_ACCESS_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ERPSYNC_") or name in ENV_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_explicit_file_is_read(tmp_path: Path) -> None:
    """Values in the file named by --config are used."""
    path = write(tmp_path / "custom.toml", '[api]\nport = 4100\n[shopify]\nshop = "acme.myshopify.com"\n')
    settings = load_settings(path)
    assert settings.api.port == 4100
    assert settings.shopify.shop == "acme.myshopify.com"


def test_file_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$ERPSYNC_CONFIG wins over ./erpsync.toml, which is used when nothing is named."""
    write(tmp_path / "erpsync.toml", "[api]\nport = 4200\n")
    assert load_settings().api.port == 4200
    other = write(tmp_path / "other.toml", "[api]\nport = 4300\n")
    monkeypatch.setenv("ERPSYNC_CONFIG", str(other))
    assert load_settings().api.port == 4300


def test_env_overrides_file_and_plain_names_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ERPSYNC_SECTION__KEY beats the seed's plain names, which beat the file."""
    path = write(tmp_path / "e.toml", '[api]\nport = 4400\n[database]\nurl = "postgresql://file/db"\n')
    monkeypatch.setenv("PORT", "4500")
    monkeypatch.setenv("DATABASE_URL", "postgresql://plain/db")
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_plain")
    monkeypatch.setenv("SHOPIFY_SHOP", "plain.myshopify.com")
    settings = load_settings(path)
    assert settings.api.port == 4500
    assert settings.database.url == "postgresql://plain/db"
    assert settings.shopify.shop == "plain.myshopify.com"
    assert settings.shopify.access_token is not None
    assert settings.shopify.access_token.get_secret_value() == "shpat_plain"
    assert "shpat_plain" not in repr(settings)
    monkeypatch.setenv("ERPSYNC_API__PORT", "4600")
    monkeypatch.setenv("ERPSYNC_SHOPIFY__SHOP", "prefixed.myshopify.com")
    settings = load_settings(path)
    assert settings.api.port == 4600
    assert settings.shopify.shop == "prefixed.myshopify.com"


@pytest.mark.parametrize(
    ("file_text", "env", "expected"),
    [
        ("[api]\nport = 'high'\n", {}, r"api\.port.*in .*bad\.toml"),
        ("[api]\nprot = 1\n", {}, r"api\.prot: Extra inputs.*bad\.toml"),
        ("", {"PORT": "eighty"}, r"api\.port.*environment variable PORT"),
        (
            "",
            {"ERPSYNC_SYNC__MAX_DELETE_FRACTION": "2"},
            r"sync\.max_delete_fraction.*ERPSYNC_SYNC__MAX_DELETE_FRACTION",
        ),
        ("[log]\nlevel = 'loud'\n", {}, r"log\.level"),
        ("[api\nport = 1\n", {}, r"bad\.toml is not valid TOML"),
    ],
    ids=["file-type", "file-typo", "plain-env", "prefixed-env", "enum", "toml-syntax"],
)
def test_bad_setting_names_key_and_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_text: str, env: dict[str, str], expected: str
) -> None:
    """A wrong setting names its key and whether it came from the file or which variable."""
    path = write(tmp_path / "bad.toml", file_text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    """--config pointing at nothing is an error, not a silent fall-back to defaults."""
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_bad_setting_at_startup_is_one_line_without_traceback(tmp_path: Path) -> None:
    """The real command prints one line naming the key and exits non-zero; no traceback."""
    path = write(tmp_path / "bad.toml", "[api]\nport = 'high'\n")
    result = subprocess.run(
        [sys.executable, "-m", "erpsync", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78  # EX_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "api.port" in lines[0]
    assert "bad.toml" in lines[0]
    assert "Traceback" not in result.stderr


def test_example_file_is_valid_and_documents_every_key() -> None:
    """erpsync.toml.example loads as is, and every settings key appears in it with a comment."""
    from erpsync.settings import Settings

    example = Path(__file__).resolve().parent.parent / "erpsync.toml.example"
    settings = load_settings(example)
    assert settings.api.host == "127.0.0.1"
    text = example.read_text(encoding="utf-8")
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text, section
        annotation = field.annotation
        assert annotation is not None
        for key in annotation.model_fields:  # type: ignore[union-attr]
            line = next(
                (line for line in text.splitlines() if line.lstrip("# ").startswith(f"{key} =")), None
            )
            assert line is not None, f"{section}.{key} is not documented"
            assert "#" in line.lstrip("#"), f"{section}.{key} has no comment"
