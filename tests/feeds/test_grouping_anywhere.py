"""Grouping `anywhere`: rows sharing a product key anywhere in the feed become one product, sorted on
disk, each error still naming the merchant's row; nothing stays on disk after the run."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from feed_support import make_config, parse_bytes

from erpsync.feeds import FeedLayoutError, RecordBatch
from erpsync.mapping.grouping import Regrouper
from erpsync.mapping.pipeline import map_feed
from erpsync.models import SyncConfig

MAPPING = {"title": "title", "variant.sku": "id", "variant.price": "price", "variant.option1": "size"}


def regroup(
    config: SyncConfig, batches: list[RecordBatch], **options: Any
) -> tuple[SyncConfig, list[RecordBatch]]:
    """Every canonical batch the stage gives for `batches`, and the config to map them with."""
    stage = Regrouper(config, feed="feed", **options)
    try:
        out = [batch for given in batches for batch in stage.push(given)]
        return stage.config, [*out, *stage.finish()]
    finally:
        stage.close()


def _merchant_feed() -> bytes:
    """Google Merchant style: items grouped by g:item_group_id, in any order."""
    lines = []
    for group in range(30):
        for size in ("S", "M", "L"):
            lines.append(f"G{group:02},G{group:02}-{size},Shirt {group},{10 + group}.00,{size}")
    lines.append("SIMPLE,SIMPLE-1,Mug,5.00,")
    lines.sort(key=lambda line: zlib.crc32(line.encode()))
    return ("g:item_group_id,id,title,price,size\n" + "\n".join(lines) + "\n").encode()


def _config(**overrides: Any) -> SyncConfig:
    settings: dict[str, Any] = {"product_key": "g:item_group_id", **overrides}
    return make_config(mapping=MAPPING, grouping={"mode": "anywhere"}, **settings)


def _batches(data: bytes, size: int = 7) -> list[RecordBatch]:
    columns, records = parse_bytes(data, "feed.csv")
    return [
        RecordBatch(columns, 2 + start, records[start : start + size])
        for start in range(0, len(records), size)
    ]


def test_rows_anywhere_become_one_product_each_with_its_rows(tmp_path: Path) -> None:
    data = _merchant_feed()
    _, records = parse_bytes(data, "feed.csv")
    row_of = {record[1]: 2 + index for index, record in enumerate(records)}
    config, out = regroup(_config(), _batches(data), work_dir=tmp_path, run_bytes=512)
    assert config.grouping.mode == "adjacent"
    products, outcome = map_feed(config, out)
    assert not outcome.errors
    assert len(products) == 31
    by_key = {product.key: product for product in products}
    shirt = by_key["G07"]
    assert shirt.title == "Shirt 7"
    assert sorted(variant.option_values for variant in shirt.variants) == [("L",), ("M",), ("S",)]
    assert {variant.sku: variant.row for variant in shirt.variants} == {
        sku: row for sku, row in row_of.items() if sku.startswith("G07-")
    }
    assert [variant.sku for variant in by_key["SIMPLE"].variants] == ["SIMPLE-1"]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_row_names_its_row_in_the_feed() -> None:
    data = b"g:item_group_id,id,title,price,size\nA,A-S,Tee,1.00,S\nB,B-S,Cap,2.00,S\nA,A-M,Tee,oops,M\n"
    config, out = regroup(_config(), _batches(data, size=2))
    products, outcome = map_feed(config, out)
    assert [product.key for product in products] == ["B"]
    assert [(error.row, error.sku, error.field) for error in outcome.errors] == [(4, "A-M", "variant.price")]
    assert outcome.rejected_keys == {"A"}


def test_without_a_product_key_the_sku_groups() -> None:
    config = make_config(mapping=MAPPING, grouping={"mode": "anywhere"})
    data = b"g:item_group_id,id,title,price,size\nx,B,Cap,2.00,\nx,A,Tee,1.00,\n"
    config, out = regroup(config, _batches(data))
    products, _ = map_feed(config, out)
    assert [(product.key, product.variants[0].row) for product in products] == [("A", 3), ("B", 2)]


def test_json_lines_records_keep_their_lines(tmp_path: Path) -> None:
    lines = [
        b'{"group": "P2", "sku": "P2-A", "name": "Two", "price": "2.00", "size": "A"}',
        b'{"group": "P1", "sku": "P1-A", "name": "One", "price": "1.00", "size": "A"}',
        b'{"group": "P2", "sku": "P2-B", "name": "Two", "price": "2.00", "size": "B"}',
    ]
    mapping = {"title": "name", "variant.sku": "sku", "variant.price": "price", "variant.option1": "size"}
    config = make_config(mapping=mapping, product_key="group", grouping={"mode": "anywhere"})
    batch = RecordBatch(None, 1, [json.loads(line) for line in lines], lines=[1, 2, 3])
    config, out = regroup(config, [batch], work_dir=tmp_path, run_bytes=64)
    assert [list(batch.rows or ()) for batch in out] == [[2, 1, 3]]
    assert [list(batch.lines or ()) for batch in out] == [[2, 1, 3]]
    products, _ = map_feed(config, out)
    assert [(product.key, [variant.sku for variant in product.variants]) for product in products] == [
        ("P1", ["P1-A"]),
        ("P2", ["P2-A", "P2-B"]),
    ]


def test_temporary_files_are_removed_when_the_run_stops_early(tmp_path: Path) -> None:
    stage = Regrouper(_config(), feed="feed", work_dir=tmp_path, run_bytes=256)
    try:
        for batch in _batches(_merchant_feed()):
            list(stage.push(batch))
        assert list(tmp_path.iterdir()) != []
        for _ in stage.finish():
            raise RuntimeError("the shop went away")
    except RuntimeError:
        pass
    finally:
        stage.close()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_key_column_stops_the_feed_at_once(tmp_path: Path) -> None:
    stage = Regrouper(_config(product_key="group"), feed="feed", work_dir=tmp_path)
    first = _batches(_merchant_feed())[0]
    try:
        with pytest.raises(FeedLayoutError, match="'group' not in the header"):
            list(stage.push(first))
    finally:
        stage.close()
    assert list(tmp_path.iterdir()) == []
    assert not Regrouper.needed(make_config())
    assert Regrouper.needed(_config())


def test_many_runs_on_disk_give_the_same_products_as_one_in_memory(tmp_path: Path) -> None:
    data = _merchant_feed()
    in_memory, _ = map_feed(*regroup(_config(), _batches(data)))
    # One run per row: past the merge's fan-in, runs are merged in stages first.
    on_disk, _ = map_feed(*regroup(_config(), _batches(data, size=1), work_dir=tmp_path, run_bytes=1))
    assert on_disk == in_memory
    assert list(tmp_path.iterdir()) == []
