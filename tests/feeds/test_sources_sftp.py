"""SFTP source against a real asyncssh server on 127.0.0.1, with the host key always checked."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from feed_support import make_config

from erpsync.sources import open_feed
from erpsync.sources.errors import SourceAuthError, SourceNotFound, SourceTrustError

USER, PASSWORD = "erp", "pw"


@dataclass
class SftpServer:
    """Where the server listens, the directory it serves and the keys a client needs."""

    port: int
    root: Path
    fingerprint: str
    known_hosts: str
    client_key: str


class _Server(asyncssh.SSHServer):
    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[SftpServer]:
    """An asyncssh SFTP server chrooted to tmp_path/sftp, accepting a password or one client key."""
    root = tmp_path / "sftp"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=_Server,
        authorized_client_keys=authorized,
        sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root).encode()),
    )
    port = int(server.sockets[0].getsockname()[1])
    known_hosts = f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n"
    yield SftpServer(
        port=port,
        root=root,
        fingerprint=host_key.get_fingerprint("sha256"),
        known_hosts=known_hosts,
        client_key=client_key.export_private_key().decode(),
    )
    server.close()
    await server.wait_closed()


def sftp_config(server: SftpServer, path: str, **credentials: Any) -> Any:
    """A config for the loopback SFTP server, trusting its key by fingerprint unless told otherwise."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "username": USER, "filePath": path}
    if "known_hosts" not in credentials:
        values["host_key_fingerprint"] = server.fingerprint
    values.update(credentials)
    return make_config(connection_type="sftp", credentials=values)


async def fetch(config: Any) -> tuple[bytes, Any]:
    """The whole feed and its FeedInfo."""
    async with open_feed(config, attempts=1) as stream:
        body = b"".join([chunk async for chunk in stream])
        return body, stream.info()


async def test_sources_sftp_password_and_fingerprint(sftp_server: SftpServer) -> None:
    """Password login to a server whose key matches the configured fingerprint streams the whole feed."""
    content = os.urandom(700_000)
    (sftp_server.root / "feed.csv").write_bytes(content)
    body, info = await fetch(sftp_config(sftp_server, "/feed.csv", password=PASSWORD))
    assert body == content
    assert (info.size, info.sha256) == (len(content), hashlib.sha256(content).hexdigest())


async def test_sources_sftp_private_key_and_known_hosts(sftp_server: SftpServer) -> None:
    """Key login with the host listed in a known_hosts text; a glob takes the newest export."""
    export = sftp_server.root / "export"
    export.mkdir()
    (export / "products_1.csv").write_bytes(b"old")
    os.utime(export / "products_1.csv", (1_000_000, 1_000_000))
    (export / "products_2.csv").write_bytes(b"new")
    config = sftp_config(
        sftp_server,
        "/export/products_*.csv",
        private_key=sftp_server.client_key,
        known_hosts=sftp_server.known_hosts,
    )
    body, info = await fetch(config)
    assert (body, info.name) == (b"new", "/export/products_2.csv")


@pytest.mark.parametrize(
    ("credentials", "path", "error", "fragment"),
    [({"password": "wrong"}, "/feed.csv", SourceAuthError, "login refused"),
     ({"password": PASSWORD, "host_key_fingerprint": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
      "/feed.csv", SourceTrustError, "host key"),
     ({"password": PASSWORD}, "/missing.csv", SourceNotFound, "no such file")],
)  # fmt: skip
async def test_sources_sftp_errors(
    sftp_server: SftpServer, credentials: dict[str, Any], path: str, error: type[Exception], fragment: str
) -> None:
    """A wrong password, an impostor host key and a missing file are told apart, naming host and path."""
    (sftp_server.root / "feed.csv").write_bytes(b"x")
    with pytest.raises(error) as caught:
        await fetch(sftp_config(sftp_server, path, **credentials))
    assert f"127.0.0.1:{path}" in str(caught.value)
    assert fragment in str(caught.value)
