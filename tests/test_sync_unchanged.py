"""An unchanged feed costs almost nothing: a run whose feed is the one last synced ends `unchanged` without
parsing it or asking the shop anything — unless something else needs work (a failed SKU, a changed config).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from shop_support import ConfigFeed, MakeFeed, flat_rows


def aged(path: Path, seconds: float = 60.0) -> None:
    """A feed written a while ago, as an ERP's nightly export is by the time it is synced (a file modified
    in the last seconds keeps no validator: it is hashed on the next run)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


async def shop_seen(feed: ConfigFeed) -> tuple[list[dict[str, Any]], int]:
    """The shop's products and the number of requests it had (read before the catalogue query)."""
    requests = int((await feed.configs.shop.simulator.stats())["requests"])
    return await feed.configs.shop.catalogue(), requests


async def test_same_file_ends_unchanged_and_leaves_the_shop_untouched(make_feed: MakeFeed) -> None:
    """The file's stat is the synced one: `unchanged`, no parse, nothing written; the shop is asked only
    what changed since the last run (two small requests: the first run's own three writes are in the drift
    window's overlap, listed with the times the shop gave those writes, so not read again)."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    aged(feed.path)
    first = await feed.sync()
    assert first.status == "succeeded", first
    catalogue, requests = await shop_seen(feed)
    second = await feed.sync()
    assert second.status == "unchanged", second
    assert second.counts["unchanged_reason"].startswith("source not modified (stat: ")
    assert second.counts["feed_bytes_transferred"] == 0
    assert "rows_read" not in second.counts  # nothing was parsed
    stats = await feed.configs.shop.simulator.stats()
    assert stats["requests"] == requests + 1 + 2  # the catalogue query above, the drift check's two
    # listed with the times the shop gave erpsync's own writes: known, not read again
    assert (second.counts["drift"]["known"], second.counts["drift"]["compared"]) == (3, 0)
    assert stats["mutations"] == (await feed.configs.shop.simulator.stats())["mutations"]
    assert await feed.configs.shop.catalogue() == catalogue
    run = await feed.configs.pool.fetchrow("SELECT * FROM sync_runs WHERE id = $1", second.run_id)
    assert run["status"] == "unchanged"
    assert run["feed_sha256"] == (
        await feed.configs.pool.fetchval("SELECT feed_sha256 FROM sync_runs WHERE id = $1", first.run_id)
    )
    assert [row["message"] for row in await feed.logs("info")][-1].startswith("feed unchanged: source not")


async def test_same_bytes_written_again_ends_unchanged_by_hash(make_feed: MakeFeed) -> None:
    """A file written again with the same bytes (new mtime): hashed, not parsed; the next run needs the
    stat alone."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    aged(feed.path)
    assert (await feed.sync()).status == "succeeded"
    feed.write(flat_rows(3))
    aged(feed.path, 30.0)
    again = await feed.sync()
    assert again.status == "unchanged", again
    assert again.counts["unchanged_reason"].startswith("same bytes (sha256 ")
    third = await feed.sync()
    assert third.counts["unchanged_reason"].startswith("source not modified"), third


async def test_a_file_just_written_is_hashed_next_time(make_feed: MakeFeed) -> None:
    """Synced seconds after it was written, the file keeps no validator: the next run hashes it (a second
    write of the same size in the same clock tick would otherwise look like the same file)."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    assert (await feed.sync()).status == "succeeded"
    again = await feed.sync()
    assert again.status == "unchanged", again
    assert again.counts["unchanged_reason"].startswith("same bytes (sha256 ")


async def test_changed_bytes_are_parsed_and_written(make_feed: MakeFeed) -> None:
    feed = await make_feed()
    feed.write(flat_rows(3))
    assert (await feed.sync()).status == "succeeded"
    feed.write(flat_rows(3, price="11.00"))
    changed = await feed.sync()
    assert (changed.status, changed.counts["updated"]) == ("succeeded", 3)
    prices = {v["price"] for p in await feed.configs.shop.catalogue() for v in p["variants"]["nodes"]}
    assert prices == {"11.00"}


async def test_a_failed_sku_is_retried_on_the_same_bytes(make_feed: MakeFeed) -> None:
    """Last run failed one SKU: the same feed is parsed again and the SKU written; then it is unchanged."""
    feed = await make_feed()
    feed.write(flat_rows(3))
    simulator = feed.configs.shop.simulator
    await simulator.faults(sku_errors={"SKU-2": "Price is invalid"})
    first = await feed.sync()
    assert (first.status, first.counts["failed"]) == ("partial", 1), first
    await simulator.faults(sku_errors={})
    retried = await feed.sync()
    assert (retried.status, retried.counts["created"]) == ("succeeded", 1), retried
    skus = sorted(v["sku"] for p in await feed.configs.shop.catalogue() for v in p["variants"]["nodes"])
    assert skus == ["SKU-1", "SKU-2", "SKU-3"]
    assert (await feed.sync()).status == "unchanged"


async def test_a_changed_config_parses_the_same_bytes(make_feed: MakeFeed) -> None:
    """The config edited (here: the title no longer mapped): the same feed is parsed and written."""
    feed = await make_feed()
    feed.write(flat_rows(2))
    assert (await feed.sync()).status == "succeeded"
    await feed.change(name="renamed")
    renamed = await feed.sync()
    assert renamed.status == "succeeded", renamed
    assert renamed.counts["rows_read"] == 2
    assert (await feed.sync()).status == "unchanged"


async def test_a_dry_run_always_plans(make_feed: MakeFeed) -> None:
    feed = await make_feed()
    feed.write(flat_rows(2))
    assert (await feed.sync()).status == "succeeded"
    dry = await feed.sync(dry_run=True)
    assert (dry.status, dry.plan and dry.plan["unchanged"]) == ("dry_run", 2)


async def test_a_scheduled_run_of_the_daemon_ends_unchanged_too(make_feed: MakeFeed) -> None:
    """The worker's job (as arq calls it for a scheduled run): the same outcome, counted by its status."""
    from erpsync.jobs import sync_job
    from erpsync.metrics import REGISTRY

    feed = await make_feed()
    feed.write(flat_rows(2))
    ctx = {"settings": feed.configs.settings, "pool": feed.configs.pool, "job_try": 1}
    assert (await sync_job(ctx, feed.id, None, False))["status"] == "succeeded"
    before = await shop_seen(feed)
    done = await sync_job(ctx, feed.id, None, False)
    assert done["status"] == "unchanged", done
    trigger = await feed.configs.pool.fetchval("SELECT trigger FROM sync_runs WHERE id = $1", done["run_id"])
    assert trigger == "schedule"
    catalogue, requests = before
    assert (await feed.configs.shop.simulator.stats())["requests"] == requests + 1 + 2  # + the drift check
    assert await feed.configs.shop.catalogue() == catalogue
    labels = {"config_id": feed.id, "outcome": "unchanged"}
    assert (REGISTRY.get_sample_value("erpsync_runs_total", labels) or 0) >= 1


async def test_after_a_failed_run_the_same_feed_is_read_again(make_feed: MakeFeed) -> None:
    """A run failed since the feed was synced (here: the file was gone): the same file is read in full once
    more — the run says `succeeded`, which closes the failure — and only then is it `unchanged`."""
    feed = await make_feed()
    feed.write(flat_rows(2))
    aged(feed.path)
    assert (await feed.sync()).status == "succeeded"
    hidden = feed.path.with_suffix(".away")
    feed.path.rename(hidden)
    assert (await feed.sync()).status == "failed"
    hidden.rename(feed.path)
    back = await feed.sync()
    assert (back.status, back.counts["rows_read"]) == ("succeeded", 2), back
    assert (await feed.sync()).status == "unchanged"


async def test_erpsync_sync_on_an_unchanged_feed_exits_0_without_the_shopify_side(
    make_feed: MakeFeed,
) -> None:
    """`erpsync sync` twice: the second run says `unchanged`, exits 0, imports neither the mapper nor the
    publish stage, and the Shopify client only once the feed check is done, for the drift check
    (`-X importtime` lists every module the process imported, each as its import ends)."""
    import asyncio
    import sys

    from support import erpsync_env

    feed = await make_feed()
    feed.write(flat_rows(2))
    aged(feed.path)
    env = erpsync_env(
        feed.configs.settings, feed.configs.tmp_path, shop_url=feed.configs.shop.simulator.base_url
    )

    async def sync_command(*flags: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *flags, "-m", "erpsync", "sync", feed.id, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        return int(process.returncode or 0), out.decode(), err.decode()

    code, out, err = await sync_command()
    assert code == 0, (out, err)
    assert out.startswith("run 1: succeeded"), out
    code, out, err = await sync_command("-X", "importtime")
    assert code == 0, (out, err)
    assert out.startswith("run 2: unchanged\n  source not modified (stat: "), out
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")
    ]
    assert "erpsync.unchanged" in imported
    assert not {"erpsync.mapping.mapper", "erpsync.publish", "erpsync.adopt"} & set(imported)
    # erpsync.sync (with the feed check) was imported whole before the client, which the run imported
    assert imported.index("erpsync.sync") < imported.index("erpsync.shopify.client")
    assert imported.index("erpsync.cli_sync") < imported.index("aiohttp")
