"""Helpers the feed tests import by name: a config factory, a one-call parse of bytes, real FTP servers.

Kept out of `conftest.py`, which pytest loads under a module name shared with `tests/conftest.py`.
"""

from __future__ import annotations

import datetime as _dt
import gc
import ipaddress
import socket
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # pyftpdlib still imports asyncore, deprecated since Python 3.10; the test server is all we use it for.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.filesystems import AbstractedFS
    from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

from erpsync.feeds import iter_records
from erpsync.models import FeedFormat, FormatOptions, SyncConfig

BASE_MAPPING = {"title": "name", "variant.sku": "sku", "variant.price": "price"}


def make_config(**overrides: Any) -> SyncConfig:
    """A valid `file` config; keyword arguments replace top-level keys."""
    data: dict[str, Any] = {
        "id": "test",
        "name": "Test feed",
        "connection_type": "file",
        "credentials": {"filePath": "/tmp/feed.csv"},
        "mapping": dict(BASE_MAPPING),
    }
    data.update(overrides)
    return SyncConfig.model_validate(data)


def parse_bytes(
    data: bytes, name: str = "feed", *, format: FeedFormat | None = None, chunk: int = 1 << 18, **options: Any
) -> tuple[tuple[str, ...] | None, list[Any]]:
    """Every record of `data`, fed in chunks of `chunk` bytes, and the CSV header if any."""
    pieces = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    columns: tuple[str, ...] | None = None
    records: list[Any] = []
    for batch in iter_records(pieces, name=name, format=format, options=FormatOptions(**options)):
        columns = batch.columns
        records.extend(batch.records)
    return columns, records


# -- real servers on loopback ------------------------------------------------------------------

FTP_USER, FTP_PASSWORD = "erp", "s3cret"
CUT_AFTER = 64 * 1024


def free_port() -> int:
    """A loopback port nothing listens on (for connection-refused tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed_cert(directory: Path) -> Path:
    """A PEM file holding a self-signed certificate for 127.0.0.1 and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = _dt.datetime.now(_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / "server.pem"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@dataclass
class FtpServer:
    """A running pyftpdlib server: where it listens and the directory it serves."""

    port: int
    root: Path
    bytes_sent: list[int]  # one number: the bytes every data connection (plain FTP) sent so far


def start_ftp(root: Path, *, tls_cert: Path | None) -> Iterator[FtpServer]:
    class CuttingFS(AbstractedFS):  # type: ignore[misc]
        """Files named cut* end early, as when an upload is still being written."""

        def open(self, filename: str, mode: str) -> object:
            handle = super().open(filename, mode)
            if Path(filename).name.startswith("cut"):
                data = handle.read(CUT_AFTER)
                handle.close()
                import io

                return io.BytesIO(data)
            return handle

    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(root), perm="elr")
    handler: type[FTPHandler]
    if tls_cert is None:
        handler = type("Handler", (FTPHandler,), {})
    else:
        handler = type(
            "TlsHandler", (TLS_FTPHandler,), {"certfile": str(tls_cert), "tls_control_required": True}
        )
    bytes_sent = [0]

    class CountingDTP(DTPHandler):  # type: ignore[misc]
        """Adds what each data connection sent (by send or sendfile) once it closes."""

        def close(self) -> None:
            if not getattr(self, "counted", False):
                self.counted = True
                bytes_sent[0] += self.tot_bytes_sent
            super().close()

    if tls_cert is None:
        handler.dtp_handler = CountingDTP
    handler.authorizer = authorizer
    handler.abstracted_fs = CuttingFS
    handler.passive_ports = None
    handler.masquerade_address = None
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"timeout": 0.05, "handle_exit": False}, daemon=True
    )
    thread.start()
    try:
        yield FtpServer(port, root, bytes_sent)
    finally:
        server.close_all()
        thread.join(timeout=5)
        # pyftpdlib can drop a socket it accepted during shutdown without closing it; collect it here,
        # quietly, rather than let its ResourceWarning land on whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
