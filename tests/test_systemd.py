"""The systemd unit and sd_notify: what `systemctl` and the watchdog rely on."""

from __future__ import annotations

import configparser
import socket
from pathlib import Path

import pytest

from erpsync.systemd import notify, watchdog_interval

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "erpsync.service"


def test_unit_is_a_hardened_notify_service() -> None:
    """The unit waits for READY, has a watchdog, its own user and state directory, and is locked down."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["WatchdogSec"]
    assert service["User"] == "erpsync"
    assert service["StateDirectory"] == "erpsync"
    assert service["EnvironmentFile"].endswith("erpsync.env")
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["ExecStart"].endswith("erpsync serve")


def test_notify_reaches_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY=1 and watchdog pings arrive on $NOTIFY_SOCKET as systemd expects; without it nothing happens."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1\nSTATUS=serving")
        assert server.recv(1024) == b"READY=1\nSTATUS=serving"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert notify("WATCHDOG=1") is False


def test_watchdog_interval_is_half_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pings come twice per WatchdogSec, and only for the process systemd watches."""
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
