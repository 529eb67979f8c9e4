"""The `erpsync` command as an operator runs it: real processes, real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from support import REDIS_URL, SECRET_KEY, SIM_TOKEN, erpsync, erpsync_awaited

from erpsync.crypto import SecretBox
from erpsync.db.configs import get_config
from erpsync.db.pool import connect
from erpsync.settings import DatabaseSettings


@pytest.fixture
def cli_env(database_url: str, db: asyncpg.Connection[Any], tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERPSYNC_")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        ERPSYNC_SECURITY__SECRET_KEY=SECRET_KEY,
        SHOPIFY_SHOP="acme.myshopify.com",
        SHOPIFY_ACCESS_TOKEN="shpat_cli_token_123",
        ERPSYNC_LOG__FORMAT="json",
    )
    return env


def test_help_lists_the_commands(cli_env: dict[str, str]) -> None:
    """`erpsync --help` works without any settings file and names the commands."""
    result = erpsync(cli_env, "--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "check", "configs"):
        assert command in result.stdout


def test_configs_apply_list_show_delete(cli_env: dict[str, str], make_config: Any, tmp_path: Path) -> None:
    """A config applied from a file is listed, shown masked, updated in place, and deleted."""
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(make_config()))
    created = erpsync(cli_env, "configs", "apply", str(path))
    assert created.returncode == 0, created.stderr
    assert "created sync config 'acme-main'" in created.stdout

    listed = erpsync(cli_env, "configs", "list")
    assert "acme-main" in listed.stdout
    assert "ftp" in listed.stdout
    assert "24h" in listed.stdout
    as_json = json.loads(erpsync(cli_env, "configs", "list", "--json").stdout)
    assert [item["id"] for item in as_json] == ["acme-main"]

    shown = erpsync(cli_env, "configs", "show", "acme-main", "--json")
    assert json.loads(shown.stdout)["credentials"]["password"] == "***"
    assert "ftp-pass-Secr3t" not in shown.stdout

    body = make_config(name="Renamed")
    body["credentials"]["password"] = "***"
    path.write_text(json.dumps(body))
    updated = erpsync(cli_env, "configs", "apply", str(path))
    assert "updated sync config" in updated.stdout

    deleted = erpsync(cli_env, "configs", "delete", "acme-main")
    assert deleted.returncode == 0
    assert erpsync(cli_env, "configs", "list").stdout.strip() == "no sync configs"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        (
            json.dumps(
                {
                    "id": "x",
                    "name": "x",
                    "connection_type": "ftp",
                    "credentials": {"filePath": "/a.csv"},
                    "mapping": {"variant.sku": "SKU"},
                }
            ),
            "credentials.host",
        ),
    ],
    ids=["malformed", "missing-host"],
)
def test_apply_bad_file_is_one_clear_line(
    cli_env: dict[str, str], tmp_path: Path, content: str, expected: str
) -> None:
    """A bad config file is refused with one line naming the file and the problem; nothing stored."""
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = erpsync(cli_env, "configs", "apply", str(path))
    assert result.returncode == 65  # EX_DATAERR
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert erpsync(cli_env, "configs", "list").stdout.strip() == "no sync configs"


def test_feed_url_token_is_masked_and_kept(cli_env: dict[str, str], make_config: Any, tmp_path: Path) -> None:
    """`configs show` and `configs list --json` print a feed URL's token and password as "***"; applying
    the shown config back keeps the stored ones (the sync would still read the real URL)."""
    url = "https://erp:cli-Pa55word@erp.example/export.csv?token=cli-t0ken-123&page=2"
    body = make_config(connection_type="http", credentials={"url": url}, format="csv")
    path = tmp_path / "http.json"
    path.write_text(json.dumps(body))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    shown = erpsync(cli_env, "configs", "show", "acme-main")
    listed = erpsync(cli_env, "configs", "list", "--json")
    masked = "https://erp:***@erp.example/export.csv?token=***&page=2"
    assert json.loads(shown.stdout)["credentials"]["url"] == masked
    assert json.loads(listed.stdout)[0]["credentials"]["url"] == masked
    for output in (shown, listed):
        assert "cli-t0ken-123" not in output.stdout + output.stderr
        assert "cli-Pa55word" not in output.stdout + output.stderr
    shown_body = json.loads(shown.stdout)
    for key in ("created_at", "updated_at"):
        del shown_body[key]
    path.write_text(json.dumps({**shown_body, "name": "renamed"}))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    assert asyncio.run(stored_url(cli_env["DATABASE_URL"], "acme-main")) == url


async def stored_url(database_url: str, config_id: str) -> str | None:
    """The feed URL as the sync reads it, decrypted."""
    conn = await connect(DatabaseSettings(url=database_url))
    try:
        stored = await get_config(conn, SecretBox(SecretStr(SECRET_KEY)), config_id)
    finally:
        await conn.close()
    return stored.config.credentials.url


def test_apply_with_a_nul_names_the_field(cli_env: dict[str, str], make_config: Any, tmp_path: Path) -> None:
    """A config file with a NUL in a field (PostgreSQL cannot store it) is refused in one line naming the
    field, and nothing is stored."""
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(make_config(name="bad\u0000name")))
    result = erpsync(cli_env, "configs", "apply", str(path))
    assert result.returncode == 65  # EX_DATAERR
    assert result.stderr.strip().splitlines() == [
        f"erpsync: {path} is not a valid sync config: name: NUL characters are not allowed in text"
    ]
    assert erpsync(cli_env, "configs", "list").stdout.strip() == "no sync configs"


def test_id_postgres_cannot_store_is_one_line(cli_env: dict[str, str]) -> None:
    """An id that is not UTF-8 (bytes from a mangled shell argument) ends `configs show`, `sync` and
    `preview` with one line and status 66 (no such config), never a traceback."""
    for command in (["configs", "show"], ["configs", "delete"], ["sync"], ["runs"], ["preview"]):
        result = subprocess.run(
            [sys.executable.encode(), b"-m", b"erpsync", *(part.encode() for part in command), b"bad\xffid"],
            env=cli_env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        stderr = result.stderr.decode(errors="replace")
        assert result.returncode == 66, (command, stderr)
        assert len(stderr.strip().splitlines()) == 1, (command, stderr)
        assert "Traceback" not in stderr


def test_show_unknown_id_fails_cleanly(cli_env: dict[str, str]) -> None:
    """Asking for a config that does not exist says so, exit status 66 (EX_NOINPUT), for every
    command that takes an id: `runs` of an unknown config no longer says "no runs" and succeeds."""
    for command in (["configs", "show"], ["configs", "delete"], ["runs"], ["sync"], ["preview"]):
        result = erpsync(cli_env, *command, "nope")
        assert result.returncode == 66, (command, result.stderr)
        assert result.stderr.strip().splitlines() == ["erpsync: no sync config with id 'nope'"], command


def test_migrate_reports_up_to_date(cli_env: dict[str, str]) -> None:
    """On a migrated database `erpsync migrate` does nothing and says so."""
    result = erpsync(cli_env, "migrate")
    assert result.returncode == 0
    assert "up to date" in result.stdout


async def test_check_asks_the_shop_and_each_service(cli_env: dict[str, str], start_shopify: Any) -> None:
    """`erpsync check` prints one line per check and asks the shop itself: it answers, takes the
    token, serves the version, grants the scopes erpsync needs; a dead Redis, a wrong token, a shop
    nobody listens at or a missing scope each fail it, saying which."""
    shop = await start_shopify()
    env = {**cli_env, "ERPSYNC_SHOPIFY__BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": SIM_TOKEN}
    good = await erpsync_awaited(env, "check")
    assert good.returncode == 0, good.stdout + good.stderr
    for name in ("settings", "postgresql", "redis", "shopify", "shopify scopes"):
        assert f"ok   {name}:" in good.stdout
    assert "'erpsync simulator', plan Standard, currency EUR" in good.stdout, good.stdout
    assert SIM_TOKEN not in good.stdout + good.stderr
    bad = await erpsync_awaited({**env, "REDIS_URL": "redis://127.0.0.1:9/0"}, "check")
    assert bad.returncode == 1
    assert "FAIL redis:" in bad.stdout
    assert "ok   postgresql:" in bad.stdout
    refused = await erpsync_awaited({**env, "SHOPIFY_ACCESS_TOKEN": "shpat_wrong_token_0000"}, "check")
    assert refused.returncode == 1
    assert "FAIL shopify: acme.myshopify.com via" in refused.stdout, refused.stdout
    assert "shpat_wrong_token_0000" not in refused.stdout + refused.stderr
    nobody = await erpsync_awaited(
        {**env, "ERPSYNC_SHOPIFY__BASE_URL": f"http://127.0.0.1:{_free_port()}"}, "check"
    )
    assert nobody.returncode == 1
    assert "FAIL shopify:" in nobody.stdout
    narrow = await start_shopify(granted_scope="write_products,read_locations")
    scoped = await erpsync_awaited({**env, "ERPSYNC_SHOPIFY__BASE_URL": narrow.base_url}, "check")
    assert scoped.returncode == 1
    assert (
        "FAIL shopify scopes: missing write_inventory, write_publications; grant them to the app and reinstall it"
        in scoped.stdout
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_and_stops_on_sigterm(cli_env: dict[str, str]) -> None:
    """`erpsync serve` answers /health, enforces the token, and exits 0 on SIGTERM."""
    port = _free_port()
    env = {**cli_env, "PORT": str(port), "ERPSYNC_API__TOKEN": "serve-token-abc"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "erpsync", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/configs")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        refused.value.close()
        request.add_header("Authorization", "Bearer serve-token-abc")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert b"serve-token-abc" not in stderr


def test_serve_refuses_public_host_without_token(cli_env: dict[str, str]) -> None:
    """Asking to listen on all interfaces without a token fails at once with one line."""
    result = erpsync({**cli_env, "ERPSYNC_API__HOST": "0.0.0.0"}, "serve")
    assert result.returncode == 78  # EX_CONFIG
    assert "api.token" in result.stderr
    assert "Traceback" not in result.stderr


def file_config_json(directory: Path, config_id: str, file_path: str) -> Path:
    """A config file for a CSV `file` source with SKU, title and price mapped."""
    config = {
        "id": config_id,
        "name": config_id.title(),
        "connection_type": "file",
        "credentials": {"filePath": file_path},
        "format": "csv",
        "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
    }
    path = directory / f"{config_id}.json"
    path.write_text(json.dumps(config))
    return path


def test_preview_by_id_reads_the_stored_config(cli_env: dict[str, str], tmp_path: Path) -> None:
    """`erpsync preview ID` maps the feed of a stored config and prints products and row errors as JSON."""
    feed = tmp_path / "feed.csv"
    feed.write_text("sku,title,price\nA-1,Alpha,1.50\nB-2,Beta,oops\n")
    path = file_config_json(tmp_path, "files", str(feed))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    result = erpsync({**cli_env, "ERPSYNC_SYNC__FILE_ROOT": str(tmp_path)}, "preview", "files", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["counts"]["products"] == 1
    assert document["counts"]["rejected_rows"] == 1
    assert document["errors"][0]["sku"] == "B-2"
    assert document["errors"][0]["field"] == "variant.price"


def test_preview_by_id_reads_only_what_a_sync_may(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A stored config is previewed under the sync's source policy: a file outside `file_root` is refused
    in one line naming the file, just as `erpsync sync` would refuse it, and nothing of it is printed."""
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("sku,title,price\nTOP-SECRET,Hidden,1.00\n")
    root = tmp_path / "feeds"
    root.mkdir()
    path = file_config_json(tmp_path, "sneaky", str(root / ".." / "outside" / "secret.csv"))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    result = erpsync({**cli_env, "ERPSYNC_SYNC__FILE_ROOT": str(root)}, "preview", "sneaky", "--json")
    assert result.returncode == 1
    assert "outside the allowed directory" in result.stderr
    assert "secret.csv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "TOP-SECRET" not in result.stdout + result.stderr
    # The same config as a file of the operator's own is read as written.
    local = erpsync(cli_env, "preview", str(path), "--json")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["products"][0]["variants"][0]["sku"] == "TOP-SECRET"


def test_rotate_key_reencrypts_with_the_new_key(
    cli_env: dict[str, str], make_config: Any, tmp_path: Path
) -> None:
    """After `erpsync rotate-key` the stored passwords open with the new key alone; before, the old key was
    still accepted through previous_keys."""
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(make_config()))
    assert erpsync(cli_env, "configs", "apply", str(path)).returncode == 0
    old_key = cli_env["ERPSYNC_SECURITY__SECRET_KEY"]
    new_key = "a-brand-new-secret-key-0987654321"
    rotating = {
        **cli_env,
        "ERPSYNC_SECURITY__SECRET_KEY": new_key,
        "ERPSYNC_SECURITY__PREVIOUS_KEYS": json.dumps([old_key]),
    }
    assert erpsync(rotating, "configs", "show", "acme-main").returncode == 0  # old key still accepted
    only_new = {**cli_env, "ERPSYNC_SECURITY__SECRET_KEY": new_key}
    refused = erpsync(only_new, "configs", "show", "acme-main")
    assert refused.returncode == 78  # EX_CONFIG: the key cannot decrypt
    assert "cannot be decrypted" in refused.stderr
    rotated = erpsync(rotating, "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    assert "1 config(s)" in rotated.stdout
    assert erpsync(only_new, "configs", "show", "acme-main").returncode == 0
    assert (
        erpsync(cli_env, "configs", "show", "acme-main").returncode == 78
    )  # the old key alone no longer opens it


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({"rows_read": 12000, "products_mapped": 2400}, "rows read 12,000  products 2,400"),
        ({"products_planned": 2400}, "planned 2,400"),
        (
            {"bulk_lines_done": 150, "bulk_lines_total": 600},
            "publishing [#######.......................] 150/600 bulk lines processed, 150 recorded",
        ),
        (
            {"bulk_lines_done": 0, "bulk_lines_processed": 300, "bulk_lines_total": 600},
            "publishing [###############...............] 300/600 bulk lines processed, 0 recorded",
        ),
    ],
    ids=["reading", "planned", "publishing", "shopify-processing"],
)
def test_terminal_progress_line(values: dict[str, int], shown: str) -> None:
    """On a terminal, `erpsync sync` shows what it is doing: rows read, products planned, a bar of bulk lines."""
    from erpsync.cli_sync import progress_line

    assert progress_line(values) == shown


def test_exit_statuses_are_distinct_and_listed(cli_env: dict[str, str]) -> None:
    """Each way a command can end has its own status, listed in `--help`: a usage error is 64
    (sysexits' EX_USAGE), never click's 2, which `erpsync sync` gives to a run held for attention;
    PostgreSQL out of reach is 69, and a sync that could not start says so instead of promising that
    a run "is kept"."""
    listed = erpsync(cli_env, "--help").stdout
    for code in (0, 1, 2, 3, 64, 65, 66, 69, 75, 78):
        assert re.search(rf"^\s+{code}\s+\w", listed, re.MULTILINE), (code, listed)
    for command in (["bogus"], ["configs", "show"], ["sync", "--nope", "acme"], ["runs", "--limit", "0"]):
        assert erpsync(cli_env, *command).returncode == 64, command
    unreachable = {**cli_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere"}
    for command in (["sync", "acme"], ["runs"], ["configs", "list"]):
        result = erpsync(unreachable, *command)
        assert result.returncode == 69, (command, result.stderr)
        assert result.stderr.strip().splitlines() == [
            "erpsync: cannot connect to PostgreSQL at postgres@127.0.0.1:9/nowhere: "
            "[Errno 111] Connect call failed ('127.0.0.1', 9)"
        ], command
