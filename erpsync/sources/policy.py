"""What a config may reach: the guard that keeps the API from becoming a file reader or a network scanner.

Configs arrive over the HTTP API, so their paths and URLs are untrusted. A `file` source must resolve —
symlinks and `..` followed — to a file below `[sync] file_root` (no root set: no file sources). An
`http` source may not resolve to a loopback, link-local, private, multicast or reserved address unless
`[sync] allow_private_sources` says so. The check runs before any byte is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from erpsync.models import SyncConfig
from erpsync.settings import SyncSettings
from erpsync.sources.errors import SourceError


class SourceForbidden(SourceError):
    """The config points somewhere erpsync is not allowed to go."""


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    file_root: Path | None
    allow_private: bool

    @classmethod
    def of(cls, settings: SyncSettings) -> SourcePolicy:
        """The policy `[sync]` sets: every read of a stored config (a run, a preview) is held to it."""
        return cls(settings.file_root, settings.allow_private_sources)

    async def check(self, config: SyncConfig) -> None:
        if config.connection_type == "file":
            check_file(config.credentials.file_path or "", self.file_root)
        elif config.connection_type == "http" and not self.allow_private:
            await check_public_url(config.credentials.url or "")


def check_file(pattern: str, root: Path | None) -> None:
    """The path (or the directory of a glob) must lie inside `root` once every link is resolved."""
    if root is None:
        raise SourceForbidden(
            "localhost",
            pattern,
            "file sources are disabled: set [sync] file_root to the directory they may read",
        )
    real_root = os.path.realpath(root)
    directory, name = os.path.split(pattern)
    has_glob = any(char in name for char in "*?[")
    target = os.path.realpath(directory if has_glob else pattern)
    if os.path.commonpath([real_root, target]) != real_root:
        raise SourceForbidden("localhost", pattern, f"is outside the allowed directory {root}")


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    return bool(
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_public_url(url: str) -> None:
    """Every address the host resolves to must be public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SourceError(host, parts.path or "/", f"cannot resolve host ({exc.strerror})") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    blocked = [address for address in addresses if _forbidden(address)]
    if blocked:
        raise SourceForbidden(
            host,
            parts.path or "/",
            f"resolves to a private or local address ({', '.join(blocked)}); "
            "set [sync] allow_private_sources to allow it",
        )
