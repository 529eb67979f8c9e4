"""Hostile configs: a `file` source confined to [sync] file_root, an `http` source kept off private networks."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpsync.models import SyncConfig
from erpsync.sources import open_feed
from erpsync.sources.policy import SourceForbidden, SourcePolicy


def file_config(path: str) -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "id": "f",
            "name": "f",
            "connection_type": "file",
            "credentials": {"filePath": path},
            "mapping": {"variant.sku": "sku"},
        }
    )


def http_config(url: str) -> SyncConfig:
    return SyncConfig.model_validate(
        {
            "id": "h",
            "name": "h",
            "connection_type": "http",
            "credentials": {"url": url},
            "mapping": {"variant.sku": "sku"},
        }
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "products.csv").write_text("sku\nA\n")
    (tmp_path / "secret.txt").write_text("top secret")
    (feeds / "escape.csv").symlink_to(tmp_path / "secret.txt")
    return feeds


async def read_all(config: SyncConfig, policy: SourcePolicy) -> bytes:
    async with open_feed(config, policy=policy) as stream:
        return b"".join([chunk async for chunk in stream])


async def test_file_inside_the_root_is_read(root: Path) -> None:
    """A path, or a glob, below file_root is read as usual."""
    policy = SourcePolicy(root, allow_private=False)
    assert await read_all(file_config(str(root / "products.csv")), policy) == b"sku\nA\n"
    assert await read_all(file_config(str(root / "*.csv")), policy)


@pytest.mark.parametrize(
    "path",
    ["{root}/../secret.txt", "{root}/escape.csv", "/etc/passwd", "{root}/../*.txt"],
    ids=["dot-dot", "symlink-out", "absolute-elsewhere", "glob-outside"],
)
async def test_file_outside_the_root_is_refused(root: Path, path: str) -> None:
    """`..`, a symlink pointing out, another absolute path or a glob elsewhere: refused, nothing read."""
    with pytest.raises(SourceForbidden, match="outside the allowed directory"):
        await read_all(file_config(path.format(root=root)), SourcePolicy(root, allow_private=False))


async def test_file_sources_need_a_root(root: Path) -> None:
    """Without [sync] file_root the daemon reads no local file at all, and says how to allow it."""
    with pytest.raises(SourceForbidden, match=r"\[sync\] file_root"):
        await read_all(file_config(str(root / "products.csv")), SourcePolicy(None, allow_private=False))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed.csv",
        "http://localhost/feed.csv",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/feed.csv",
        "http://[::1]/feed.csv",
        "http://0.0.0.0/x",
    ],
    ids=["loopback", "localhost", "cloud-metadata", "private", "ipv6-loopback", "unspecified"],
)
async def test_http_to_private_addresses_is_refused(url: str) -> None:
    """The API cannot be used to probe the VM's own network: private targets are refused before connecting."""
    with pytest.raises(SourceForbidden, match="allow_private_sources"):
        await SourcePolicy(None, allow_private=False).check(http_config(url))


async def test_private_http_allowed_when_configured() -> None:
    """With allow_private_sources the same loopback URL passes the check."""
    await SourcePolicy(None, allow_private=True).check(http_config("http://127.0.0.1:9/feed.csv"))
