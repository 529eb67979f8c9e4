"""Bulk mutations and exports through the client, against the simulator: every line accounted for."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from erpsync.shopify import documents
from erpsync.shopify.bulk import LineOutcome, resume_file, run_bulk_mutation, run_file
from erpsync.shopify.bulk_files import BulkFile, BulkFileWriter, KeyIndex
from erpsync.shopify.client import ShopifyClient
from erpsync.shopify.export import iter_export, run_export
from erpsync.shopify.throttle import Throttle


def product_line(sku: str, *, title: str | None = None) -> dict[str, Any]:
    handle = f"p-{sku.lower()}"
    return {
        "identifier": {"handle": handle},
        "input": {
            "handle": handle,
            "title": title or f"Product {sku}",
            "status": "ACTIVE",
            "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
            "variants": [
                {
                    "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                    "sku": sku,
                    "price": "9.90",
                }
            ],
        },
    }


def write_files(tmp_path: Path, skus: list[str], *, max_lines: int = 0) -> list[BulkFile]:
    with BulkFileWriter(tmp_path, "run-1", max_lines=max_lines) as writer:
        for sku in skus:
            writer.add(sku, product_line(sku))
    return writer.files


class Recorder:
    """Collects what the bulk runner reports, as the sync engine would store it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.outcomes: dict[str, LineOutcome] = {}

    async def on_started(self, file: BulkFile, operation_id: str) -> None:
        self.started.append(operation_id)

    async def on_outcomes(self, file: BulkFile, outcomes: list[LineOutcome]) -> None:
        for outcome in outcomes:
            assert outcome.key not in self.outcomes, "a line was reported twice"
            self.outcomes[outcome.key] = outcome


def test_writer_splits_below_the_size_limit(tmp_path: Path) -> None:
    """A file never passes the byte limit, and each line's key can be found by line number."""
    with BulkFileWriter(tmp_path, "split", max_bytes=2000) as writer:
        for index in range(40):
            writer.add(f"SKU-{index}", product_line(f"SKU-{index}"))
    files = writer.files
    assert len(files) > 1
    assert all(file.size <= 2000 and file.path.stat().st_size == file.size for file in files)
    assert sum(file.lines for file in files) == 40
    with KeyIndex(files[1].keys_path) as keys:
        assert keys[0] == f"SKU-{files[0].lines}"


async def test_bulk_mutation_creates_every_product(shopify: Any, tmp_path: Path) -> None:
    """Each line of a bulk productSet comes back joined to its SKU, with the new product's id."""
    skus = [f"SKU-{index}" for index in range(25)]
    recorder = Recorder()
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        results = await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, skus, max_lines=10),
            concurrency=5,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert len(results) == 3
    assert {result.operation.status for result in results} == {"COMPLETED"}
    assert sorted(recorder.outcomes) == sorted(skus)
    outcome = recorder.outcomes["SKU-7"]
    assert outcome.status == "ok"
    assert outcome.payload is not None
    product = outcome.payload["product"]
    assert product["handle"] == "p-sku-7"
    assert product["variants"]["nodes"][0]["sku"] == "SKU-7"
    assert len(recorder.started) == 3
    stats = await shopify.stats()
    assert stats["mutations"]["productSet"] == 25


async def test_user_errors_are_reported_per_sku(shopify: Any, tmp_path: Path) -> None:
    """A line Shopify refuses is reported against its own SKU, with the message; the others succeed."""
    await shopify.faults(sku_errors={"SKU-2": "Price is invalid"})
    recorder = Recorder()
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, ["SKU-1", "SKU-2", "SKU-3"]),
            concurrency=1,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert recorder.outcomes["SKU-2"].status == "user_errors"
    assert "Price is invalid" in recorder.outcomes["SKU-2"].message
    assert recorder.outcomes["SKU-1"].status == recorder.outcomes["SKU-3"].status == "ok"


async def test_failed_operation_reads_partial_data_and_marks_the_rest_unknown(
    shopify: Any, tmp_path: Path
) -> None:
    """When Shopify fails an operation midway, the lines it ran are known and the rest are 'unknown'."""
    await shopify.faults(fail_bulk_after_lines=4)
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(10)]
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        (result,) = await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, skus),
            concurrency=1,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert result.operation.status == "FAILED"
    assert result.operation.error_code == "INTERNAL_SERVER_ERROR"
    assert sorted(recorder.outcomes) == sorted(skus)
    statuses = [outcome.status for outcome in recorder.outcomes.values()]
    assert statuses.count("ok") == 4
    assert statuses.count("unknown") == 6
    unknown = next(outcome for outcome in recorder.outcomes.values() if outcome.status == "unknown")
    assert "FAILED" in unknown.message


async def test_more_files_than_slots_wait_for_a_slot(start_shopify: Any, tmp_path: Path) -> None:
    """With 7 operations and 5 slots, the extra ones wait for LIMIT_REACHED to clear; all complete."""
    shopify = await start_shopify(bulk_rate=200.0)
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(35)]
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        results = await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, skus, max_lines=5),
            concurrency=7,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert len(results) == 7
    assert all(result.operation.status == "COMPLETED" for result in results)
    assert len(recorder.outcomes) == 35
    assert all(outcome.status == "ok" for outcome in recorder.outcomes.values())
    assert (await shopify.stats())["bulk_operations"]["MUTATION"] == 7


async def test_resume_by_id_reads_results_without_resubmitting(shopify: Any, tmp_path: Path) -> None:
    """A run that died after starting an operation resumes it by id: no second submission."""
    (file,) = write_files(tmp_path, ["SKU-A", "SKU-B"])
    recorder = Recorder()

    class Crash(Exception):
        pass

    async def crash_after_start(file: BulkFile, operation_id: str) -> None:
        recorder.started.append(operation_id)
        raise Crash

    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        with pytest.raises(Crash):
            await run_file(
                client,
                documents.PRODUCT_SET_BULK,
                file,
                on_started=crash_after_start,
                on_outcomes=recorder.on_outcomes,
            )
        (operation_id,) = recorder.started
        result = await resume_file(client, operation_id, file, on_outcomes=recorder.on_outcomes)
    assert result.operation.status == "COMPLETED"
    assert {key: outcome.status for key, outcome in recorder.outcomes.items()} == {
        "SKU-A": "ok",
        "SKU-B": "ok",
    }
    assert (await shopify.stats())["bulk_operations"]["MUTATION"] == 1


async def test_upload_survives_a_dropped_connection(shopify: Any, tmp_path: Path) -> None:
    """Transient faults around the bulk calls cost retries, not the run."""
    recorder = Recorder()
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        await shopify.faults(drop_connections=1)
        await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, ["SKU-1"]),
            concurrency=1,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
    assert recorder.outcomes["SKU-1"].status == "ok"


async def test_export_reassembles_products_with_their_variants(shopify: Any, tmp_path: Path) -> None:
    """The adoption export yields each product with its own variants attached, found by SKU."""
    recorder = Recorder()
    skus = [f"SKU-{index}" for index in range(12)]
    async with ShopifyClient(shopify.target(), throttle=Throttle()) as client:
        await run_bulk_mutation(
            client,
            documents.PRODUCT_SET_BULK,
            write_files(tmp_path, skus),
            concurrency=1,
            on_started=recorder.on_started,
            on_outcomes=recorder.on_outcomes,
        )
        operation = await run_export(client, documents.PRODUCT_EXPORT_QUERY)
        products = [node async for node in iter_export(client, operation)]
    assert len(products) == 12
    by_sku = {
        variant.data["sku"]: product for product in products for variant in product.children["ProductVariant"]
    }
    assert sorted(by_sku) == sorted(skus)
    assert by_sku["SKU-3"].data["handle"] == "p-sku-3"
    assert all(len(product.children["ProductVariant"]) == 1 for product in products)


async def test_concurrent_writers_share_one_throttle(shopify: Any, tmp_path: Path) -> None:
    """Two clients of one shop in one process pace themselves through the same bucket."""
    from erpsync.shopify.throttle import throttle_for

    async with ShopifyClient(shopify.target()) as first, ShopifyClient(shopify.target()) as second:
        assert first.throttle is second.throttle is throttle_for("acme.myshopify.com")
        await asyncio.gather(first.execute(documents.SHOP), second.execute(documents.SHOP))
