"""Log output: JSON for journald, run context on every line, and no secret ever printed."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import orjson
import pytest
import structlog
from pydantic import SecretStr

from erpsync.logs import bound_run, configure_logging, get_logger, register_secret


@contextlib.contextmanager
def captured_log(log_format: str = "auto") -> Iterator[io.StringIO]:
    """The process log, every level, in a buffer (JSON: a buffer is no terminal); then back to normal."""
    out = io.StringIO()
    configure_logging(log_format=log_format, level="debug", stream=out)
    try:
        yield out
    finally:
        configure_logging(log_format="console", level="info")


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    with captured_log() as out:
        yield out


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_when_not_a_terminal(stream: io.StringIO) -> None:
    """Under systemd (no terminal) each log line is one JSON object journald can index."""
    get_logger("test").info("feed fetched", bytes=1234)
    (line,) = lines(stream)
    assert line["event"] == "feed fetched"
    assert line["bytes"] == 1234
    assert line["level"] == "info"
    assert "timestamp" in line


def test_console_lines_on_request() -> None:
    """`format = "console"` prints readable text, not JSON."""
    out = io.StringIO()
    configure_logging(log_format="console", level="info", stream=out)
    get_logger().info("hello", count=2)
    text = out.getvalue()
    assert "hello" in text
    assert "count" in text
    assert not text.lstrip().startswith("{")


def test_every_line_of_a_run_carries_config_and_run_id(stream: io.StringIO) -> None:
    """Lines logged inside a run, from any module, can be filtered by config_id and run_id."""
    with bound_run("acme-main", 42):
        get_logger("a").info("fetch")
        get_logger("b").warning("row rejected", row=7)
    get_logger("c").info("after")
    first, second, after = lines(stream)
    assert (first["config_id"], first["run_id"]) == ("acme-main", 42)
    assert (second["config_id"], second["run_id"]) == ("acme-main", 42)
    assert "config_id" not in after


def test_secrets_never_appear(stream: io.StringIO) -> None:
    """Passwords, tokens and keys are masked whether passed by name, inside text, or as SecretStr."""
    password, token, key = "ftp-Pa55word-xyz", "shpat_0123456789abcdef", "secret-key-material-987"
    register_secret(password)
    register_secret(SecretStr(token))
    register_secret(key)
    log = get_logger("test")
    log.info("connecting", password=password, access_token=token, secret_key=key)
    log.error("login failed", error=f"530 Login incorrect for user acme with {password}")
    log.info("settings", api={"token": token, "nested": [f"Bearer {token}"]})
    log.info("typed", value=SecretStr("another-one-zzz"))
    try:
        raise RuntimeError(f"ftp://acme:{password}@ftp.acme.test/export failed")
    except RuntimeError:
        log.exception("fetch failed")
    output = stream.getvalue()
    for secret in (password, token, key, "another-one-zzz"):
        assert secret not in output
    assert output.count("***") >= 6


def test_url_credentials_are_masked_even_unregistered(stream: io.StringIO) -> None:
    """A URL quoted in any log line shows its password and credential-looking query values as "***",
    known secrets or not; its other parameters, and text that is no URL, stay readable."""
    log = get_logger("test")
    log.error(
        "fetch failed",
        error="GET https://erp.example/export.csv?token=unregistered-1&page=2: 403 Forbidden",
        retry="https://user:unregistered-2@erp.example/feed?sig=unregistered-3&api_key=unregistered-4",
        note="price=12.50 and monkey=1 are not secrets",
    )
    (line,) = lines(stream)
    assert line["error"] == "GET https://erp.example/export.csv?token=***&page=2: 403 Forbidden"
    assert line["retry"] == "https://user:***@erp.example/feed?sig=***&api_key=***"
    assert line["note"] == "price=12.50 and monkey=1 are not secrets"
    assert "unregistered" not in stream.getvalue()


def test_a_warning_repeated_by_a_retry_loop_is_printed_once_per_window(stream: io.StringIO) -> None:
    """An outage retried every second prints its warning once, then again after the window with
    how many were held back; another warning, or the same words about something else, still prints."""
    from erpsync.logs import RepeatFilter

    now = [0.0]
    drop = RepeatFilter(window=60, clock=lambda: now[0])
    printed = []
    for second in range(130):
        now[0] = float(second)
        for event in (
            {"event": "lost Redis", "error": "refused"},
            {"event": "lost Redis", "error": "timeout"},
        ):
            with contextlib.suppress(structlog.DropEvent):
                printed.append((second, drop(None, "warning", dict(event))))
    assert [(second, event["error"], event.get("repeated")) for second, event in printed] == [
        (0, "refused", None),
        (0, "timeout", None),
        (60, "refused", 59),
        (60, "timeout", 59),
        (120, "refused", 59),
        (120, "timeout", 59),
    ]
    assert drop(None, "info", {"event": "lost Redis", "error": "refused"}) == {
        "event": "lost Redis",
        "error": "refused",
    }
    log = get_logger("test")
    for _ in range(3):
        log.warning("scheduler cannot read configs", error="down")
    assert [line["event"] for line in lines(stream)] == ["scheduler cannot read configs"]
