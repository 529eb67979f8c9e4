"""Hostile configs: a `file` source confined to [sync] file_root, an `http` source kept off private networks."""

from __future__ import annotations

import os
import time
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


def age(path: Path, seconds: float) -> None:
    """Set the mtime of `path` (of a link's target, when it is a link) `seconds` in the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_file_inside_the_root_is_read(root: Path) -> None:
    """A path, or a glob, below file_root is read as usual; an older link out of the root in the glob's
    directory does not stop the newest feed from being read."""
    policy = SourcePolicy(root, allow_private=False)
    age(root / "escape.csv", 3600)
    assert await read_all(file_config(str(root / "products.csv")), policy) == b"sku\nA\n"
    assert await read_all(file_config(str(root / "*.csv")), policy) == b"sku\nA\n"


async def test_glob_whose_newest_match_leads_out_is_refused(root: Path) -> None:
    """A link out of file_root that is the glob's newest match is never read, and no older feed is read
    in its place: the run fails naming the link, so the shop is not synced from a stale file."""
    age(root / "products.csv", 3600)
    with pytest.raises(SourceForbidden) as caught:
        await read_all(file_config(str(root / "*.csv")), SourcePolicy(root, allow_private=False))
    message = str(caught.value)
    assert f"localhost:{root / 'escape.csv'}: is the newest match of *.csv but leads outside" in message
    assert "no older match is read" in message
    assert "top secret" not in message


async def test_glob_match_linked_inside_the_root_is_read(root: Path) -> None:
    """A link that stays inside file_root (a `latest.csv` pointing at today's export) is read as usual,
    under the link's name."""
    (root / "exports").mkdir()
    (root / "exports" / "today.csv").write_text("sku\nB\n")
    (root / "latest.csv").symlink_to(root / "exports" / "today.csv")
    age(root / "products.csv", 3600)
    age(root / "escape.csv", 3600)
    async with open_feed(
        file_config(str(root / "*.csv")), policy=SourcePolicy(root, allow_private=False)
    ) as stream:
        assert b"".join([chunk async for chunk in stream]) == b"sku\nB\n"
        assert stream.info().name == str(root / "latest.csv")


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
        "http://100.64.0.1/feed.csv",
        "http://[2002:7f00:1::]/feed.csv",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
    ],
    ids=[
        "loopback",
        "localhost",
        "cloud-metadata",
        "private",
        "ipv6-loopback",
        "unspecified",
        "shared-address-space",
        "6to4-loopback",
        "mapped-metadata",
    ],
)
async def test_http_to_private_addresses_is_refused(url: str) -> None:
    """The API cannot be used to probe the VM's own network: private targets are refused before connecting."""
    with pytest.raises(SourceForbidden, match="allow_private_sources"):
        await SourcePolicy(None, allow_private=False).check(http_config(url))


async def test_private_http_allowed_when_configured() -> None:
    """With allow_private_sources the same loopback URL passes the check."""
    await SourcePolicy(None, allow_private=True).check(http_config("http://127.0.0.1:9/feed.csv"))
