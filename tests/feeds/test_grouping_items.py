"""Sorted regrouping with odd keys and odd cells: whatever a feed holds, rows sharing a key become one
product and no row joins another's product; the external sort returns exactly what went in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from feed_support import make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from erpsync.feeds import RecordBatch
from erpsync.feeds.records import CellProblem
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.grouping import Regrouper
from erpsync.mapping.pipeline import map_feed
from erpsync.mapping.sorting import ExternalSorter

HEADER = ("group", "sku", "title", "price", "note")
MAPPING = {"title": "title", "variant.sku": "sku", "variant.price": "price", "variant.option1": "note"}


def _map(
    batches: list[RecordBatch], tmp_path: Path, **overrides: Any
) -> tuple[list[ProductDraft], MapOutcome]:
    config = make_config(mapping=MAPPING, product_key="group", grouping={"mode": "anywhere"}, **overrides)
    stage = Regrouper(config, feed="feed.csv", work_dir=tmp_path, run_bytes=200)
    try:
        out = [batch for given in batches for batch in stage.push(given)]
        return map_feed(stage.config, [*out, *stage.finish()])
    finally:
        stage.close()


def _variants(products: list[ProductDraft]) -> dict[str, list[tuple[str, int]]]:
    return {product.key: [(variant.sku, variant.row) for variant in product.variants] for product in products}


def test_keys_that_start_another_or_hold_nul_each_group_alone(tmp_path: Path) -> None:
    """`A`, `A\\0`, `A\\0B` and `AB` are four products: a key that is the start of another, or that
    holds the byte the sort writes after a key, never pulls the other's rows into its product."""
    keys = ["AB", "A", "A\x00B", "A\x00", "A", "AB", "A\x00B", "A\x00"]
    records = [[key, f"S{row}", f"T {key!r}", "1.00", str(row)] for row, key in enumerate(keys, start=2)]
    products, outcome = _map(
        [RecordBatch(HEADER, 2, records[:3]), RecordBatch(HEADER, 5, records[3:])], tmp_path
    )
    assert not outcome.errors
    assert _variants(products) == {
        "A": [("S3", 3), ("S6", 6)],
        "A\x00": [("S5", 5), ("S9", 9)],
        "A\x00B": [("S4", 4), ("S8", 8)],
        "AB": [("S2", 2), ("S7", 7)],
    }
    assert list(tmp_path.iterdir()) == []


def test_rows_the_sort_cannot_pack_keep_their_place_lines_and_problems(tmp_path: Path) -> None:
    """A cell holding the unit separator, a cell the parser could not read and a row spanning lines
    travel another way through the sort: each still lands in its product, names its row and line,
    and the unreadable cell rejects its product only."""
    first = RecordBatch(HEADER, 2, [["P", "P-1", "Tee", "1.00", "a\x1fb"], ["Q", "Q-1", "Mug", "2.00", "x"]])
    spanning = RecordBatch(
        HEADER, 4, [["Q", "Q-2", "Mug", "2.00", "two\nlines"], ["P", "P-2", "Tee", "1.00", "y"]], lines=[4, 6]
    )
    broken = RecordBatch(
        HEADER,
        6,
        [["R", "R-1", "Cap", CellProblem("invalid UTF-8 in the cell"), "z"]],
        lines=[7],
        problems=True,
    )
    products, outcome = _map([first, spanning, broken], tmp_path)
    assert _variants(products) == {"P": [("P-1", 2), ("P-2", 5)], "Q": [("Q-1", 3), ("Q-2", 4)]}
    by_sku = {variant.sku: variant for product in products for variant in product.variants}
    assert by_sku["P-1"].option_values == ("a\x1fb",)
    assert by_sku["Q-2"].option_values == ("two\nlines",)
    assert [(error.row, error.line, error.sku) for error in outcome.errors] == [(6, 7, "R-1")]
    assert "invalid UTF-8" in outcome.errors[0].message
    assert outcome.rejected_keys == {"R"}


def test_a_short_variation_row_still_gets_its_parents_fields(tmp_path: Path) -> None:
    """WooCommerce rows cut short (trailing empty cells left out): the first variation is given
    its parent's title and description even though its row ends before those columns."""
    header = ("SKU", "Parent", "Regular price", "Size", "Name", "Description")
    records = [
        ["TEE-S", "TEE", "19.90", "S"],
        ["TEE", "", "", "", "Tee", "Soft cotton"],
        ["TEE-M", "TEE", "21.00", "M"],
    ]
    mapping = {
        "title": "Name",
        "description": "Description",
        "variant.sku": "SKU",
        "variant.price": "Regular price",
        "variant.option1": "Size",
    }
    config = make_config(mapping=mapping, grouping={"mode": "parent", "parent": "Parent"})
    stage = Regrouper(config, feed="feed.csv", work_dir=tmp_path)
    try:
        out = list(stage.push(RecordBatch(header, 2, records)))
        products, outcome = map_feed(stage.config, [*out, *stage.finish()])
    finally:
        stage.close()
    assert not outcome.errors
    [tee] = products
    assert (tee.key, tee.title, tee.description) == ("TEE", "Tee", "Soft cotton")
    assert [(variant.sku, variant.price, variant.row) for variant in tee.variants] == [
        ("TEE-S", "19.90", 2),
        ("TEE-M", "21.00", 4),
    ]


def test_json_children_find_their_parent_wherever_it_is(tmp_path: Path) -> None:
    """Keyed records (JSON Lines) in the parent shape: the parent's fields on its product, its
    children as variants in feed order, an orphan rejected by name."""
    records = [
        {"sku": "CAP-1", "parent": "CAP", "price": "3.00", "size": "S"},
        {"sku": "CAP", "name": "Cap", "body": "Wool"},
        {"sku": "LOST-1", "parent": "LOST", "price": "1.00"},
        {"sku": "CAP-2", "parent": "CAP", "price": "4.00", "size": "M"},
    ]
    mapping = {
        "title": "name",
        "description": "body",
        "variant.sku": "sku",
        "variant.price": "price",
        "variant.option1": "size",
    }
    config = make_config(mapping=mapping, grouping={"mode": "parent", "parent": "parent"})
    stage = Regrouper(config, feed="feed.jsonl", work_dir=tmp_path, run_bytes=64)
    try:
        pushed = [
            RecordBatch(None, row, [record], lines=[row]) for row, record in enumerate(records, start=1)
        ]
        out = [batch for given in pushed for batch in stage.push(given)]
        products, outcome = map_feed(stage.config, [*out, *stage.finish()])
    finally:
        stage.close()
    [cap] = products
    assert (cap.key, cap.title, cap.description) == ("CAP", "Cap", "Wool")
    assert [(variant.sku, variant.row, variant.option_values) for variant in cap.variants] == [
        ("CAP-1", 1, ("S",)),
        ("CAP-2", 4, ("M",)),
    ]
    assert [(error.sku, error.message) for error in outcome.errors] == [
        ("LOST-1", "parent 'LOST' is not in the feed")
    ]
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="ab\x00\x01\x1f\u00e9", max_size=6), max_size=400),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=1, max_value=2000),
)
def test_the_external_sort_returns_what_went_in_in_order(
    items: list[str], batch: int, run_bytes: int
) -> None:
    """However the items are cut into batches and runs (past the merge's fan-in too), the sorted
    stream is exactly Python's sort of them, duplicates included."""
    sorter = ExternalSorter(run_bytes=run_bytes, block_bytes=64)
    try:
        for start in range(0, len(items), batch):
            piece = items[start : start + batch]
            sorter.add(piece, sum(map(len, piece)) + len(piece))
        assert list(sorter.sorted()) == sorted(items)
    finally:
        sorter.close()


def test_a_run_of_a_million_bytes_merges_in_order(tmp_path: Path) -> None:
    """Many runs of unequal blocks: the sliced merge hands on ascending slices that add up to all."""
    generator = random.Random(5)  # noqa: S311 - a fixed seed for a reproducible order
    items = [f"{generator.randrange(10_000):05}-{index}" for index in range(60_000)]
    sorter = ExternalSorter(work_dir=tmp_path, run_bytes=40_000, block_bytes=2_000)
    try:
        for start in range(0, len(items), 1000):
            sorter.add(items[start : start + 1000], 12_000)
        pieces = list(sorter.slices())
        assert len(pieces) > 1
        assert [item for piece in pieces for item in piece] == sorted(items)
    finally:
        sorter.close()
    assert list(tmp_path.iterdir()) == []


def test_a_short_child_row_a_parent_lists_still_gets_its_parents_fields(tmp_path: Path) -> None:
    """Magento's listing shape with rows cut short: the listed child takes the parent's name."""
    header = ("sku", "price", "configurable_variations", "name")
    records = [["MH01-S", "52.00"], ["MH01", "99.00", "sku=MH01-S,size=S", "Chaz Hoodie"]]
    mapping = {
        "title": "name",
        "variant.sku": "sku",
        "variant.price": "price",
        "variant.option1": "configurable_variations.size",
    }
    config = make_config(mapping=mapping, grouping={"mode": "parent", "children": "configurable_variations"})
    stage = Regrouper(config, feed="feed.csv", work_dir=tmp_path)
    try:
        out = list(stage.push(RecordBatch(header, 2, records)))
        products, outcome = map_feed(stage.config, [*out, *stage.finish()])
    finally:
        stage.close()
    assert not outcome.errors
    [hoodie] = products
    assert (hoodie.key, hoodie.title) == ("MH01", "Chaz Hoodie")
    assert [(variant.sku, variant.price, variant.option_values) for variant in hoodie.variants] == [
        ("MH01-S", "52.00", ("S",))
    ]
