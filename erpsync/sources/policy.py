"""What a config may reach: the guard that keeps the API from becoming a file reader or a network scanner.

Configs arrive over the HTTP API, so their paths and URLs are untrusted. A `file` source must resolve —
symlinks and `..` followed — to a file below `[sync] file_root` (no root set: no file sources). An
`http` source may not resolve to a loopback, link-local, private, shared (RFC 6598), multicast or
reserved address unless `[sync] allow_private_sources` says so; an IPv6 address that carries an IPv4 one
(mapped, compatible, 6to4, NAT64, Teredo) is judged by the IPv4 address its traffic ends up at. The check
runs before any byte is read, and again on every redirect (`sources.http`) and on the file a glob picks
(`sources.file`), since either can lead somewhere the config's first path or URL did not.
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
    """Where sources may read. `trusted_hosts` names hosts (as URLs spell them) allowed on a private
    address even without `allow_private`: one known machine rather than the whole network. `[sync]` has
    no key for it, so the daemon's own policy trusts none."""

    file_root: Path | None
    allow_private: bool
    trusted_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: SyncSettings) -> SourcePolicy:
        """The policy `[sync]` sets: every read of a stored config (a run, a preview) is held to it."""
        return cls(settings.file_root, settings.allow_private_sources)

    async def check(self, config: SyncConfig) -> None:
        if config.connection_type == "file":
            check_file(config.credentials.file_path or "", self.file_root)
        elif config.connection_type == "http":
            await self.check_url(config.credentials.url or "")

    async def check_url(self, url: str) -> None:
        """The config's URL, or a redirect's target: refused if its host resolves to a private address."""
        if not self.allow_private and (urlsplit(url).hostname or "") not in self.trusted_hosts:
            await check_public_url(url)


def check_file(pattern: str, root: Path | None) -> None:
    """The path (or the directory of a glob) must lie inside `root` once every link is resolved."""
    if root is None:
        raise SourceForbidden(
            "localhost",
            pattern,
            "file sources are disabled: set [sync] file_root to the directory they may read",
        )
    directory, name = os.path.split(pattern)
    has_glob = any(char in name for char in "*?[")
    if confined(directory if has_glob else pattern, root) is None:
        raise SourceForbidden("localhost", pattern, f"is outside the allowed directory {root}")


def confined(path: str, root: Path) -> str | None:
    """The real path of `path` (every link and `..` resolved) if it lies inside `root`, else None."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(path)
    return target if os.path.commonpath([real_root, target]) == real_root else None


_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): the provider's network
_COMPATIBLE = ipaddress.IPv6Network("::/96")  # ::a.b.c.d, deprecated by RFC 4291: judged as the IPv4 it names
# NAT64: the well-known prefix (RFC 6052) and the local-use one (RFC 8215), IPv4 in the last 32 bits as
# DNS64 writes it for a /96 translator prefix.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address leads to (a Teredo one: its server and its client); none when
    it is native IPv6. Connecting to `2002:7f00:1::` reaches 127.0.0.1 just as surely as 127.0.0.1 does."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    # :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    if (ip in _COMPATIBLE and int(ip) > 1) or any(ip in prefix for prefix in _NAT64):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return ()


def is_public(address: str) -> bool:
    """Whether an address `getaddrinfo` gave (an IPv6 one may carry a `%scope`) is on the public internet.

    An IPv6 address carrying IPv4 is judged by that IPv4 alone: its own prefix only says how the packets
    travel, and Python's verdict on those prefixes differs between releases (all of `::/8` is reserved)."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    carried = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else ()
    return all(_public(each) for each in carried) if carried else _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in _SHARED
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
    blocked = [address for address in addresses if not is_public(address)]
    if blocked:
        raise SourceForbidden(
            host,
            parts.path or "/",
            f"resolves to a private or local address ({', '.join(blocked)}); "
            "set [sync] allow_private_sources to allow it",
        )
