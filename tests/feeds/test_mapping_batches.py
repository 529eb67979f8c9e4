"""Mapping whole batches column by column gives exactly what the row-by-row path gives, errors included."""

from __future__ import annotations

import random
from typing import Any

import pytest
from feed_support import make_config

from erpsync.feeds import RecordBatch
from erpsync.mapping import MAX_VARIANTS, FeedMapper
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.models import SyncConfig

COLUMNS = ("parent", "sku", "name", "price", "rrp", "ean", "stock", "weight", "unit", "size", "color",
           "material", "grade", "vendor", "tags", "status")  # fmt: skip
MAPPING = {
    "title": "name", "variant.sku": "sku", "variant.price": "price", "variant.compare_at_price": "rrp",
    "variant.barcode": "ean", "variant.inventory_quantity": "stock", "variant.weight": "weight",
    "variant.weight_unit": "unit", "variant.option1": "size", "variant.option2": "color", "vendor": "vendor",
    "tags": "tags", "status": "status",
}  # fmt: skip
METAFIELDS = [
    {"sourceKey": "material", "metafieldNamespace": "custom", "metafieldKey": "material",
     "metafieldType": "single_line_text_field"},
    {"sourceKey": "grade", "metafieldNamespace": "custom", "metafieldKey": "grade",
     "metafieldType": "number_integer", "owner": "variant"},
]  # fmt: skip
GOOD = {"price": ["19.90", "5", "1,234.50", " 7.5 ", "0.50"], "rrp": ["", "25.00", "30"],
        "stock": ["3", "0", "12.0", ""], "weight": ["0.2", "1.5 kg", "", "250 g"], "unit": ["", "g", "kg"],
        "grade": ["", "1", "7"], "status": ["active", "Draft", ""], "tags": ["a,b", "b, a", ""]}  # fmt: skip
BAD = {"price": ["abc", "-1", "", "19,90"], "rrp": ["-2"], "stock": ["1.5", "x"], "weight": ["heavy"],
       "unit": ["stone"], "grade": ["seven"], "status": ["live"], "name": [""], "sku": [""],
       "size": ["", "S"], "color": [""]}  # fmt: skip


def _feed(seed: int, products: int, bad_share: float) -> list[list[str]]:
    """Products of 1-6 variants; some rows carry a bad value, a repeated SKU or a stray product key."""
    generator = random.Random(seed)  # noqa: S311 - a fixed seed for a reproducible feed
    rows: list[list[str]] = []
    for product in range(products):
        for variant in range(generator.randint(1, 6)):
            cells = {
                "parent": f"P{product}", "sku": f"P{product}-{variant}", "name": f"Tee {product}",
                "ean": f"400{product:06d}{variant}", "size": ["S", "M", "L", "XL", "XS", "XXL"][variant],
                "color": "Red", "material": "cotton", "vendor": " Acme ",
            }  # fmt: skip
            cells.update({field: generator.choice(values) for field, values in GOOD.items()})
            if generator.random() < bad_share:
                field = generator.choice(list(BAD))
                cells[field] = generator.choice(BAD[field])
            if generator.random() < bad_share / 4:
                cells["sku"] = f"P{generator.randrange(product + 1)}-0"  # a repeated SKU
            if generator.random() < bad_share / 4:
                cells["parent"] = f"P{generator.randrange(product + 1)}"  # rows not adjacent
            row = [cells[column] for column in COLUMNS]
            if generator.random() < 0.02:
                row = row[:-2]  # a short row: the trailing cells are empty
            rows.append(row)
    return rows


def _batches(rows: list[Any], sizes: list[int], *, columns: tuple[str, ...] | None) -> list[RecordBatch]:
    batches, start, index = [], 0, 0
    while start < len(rows):
        size = sizes[index % len(sizes)]
        batches.append(RecordBatch(columns, start + (2 if columns else 1), rows[start : start + size]))
        start, index = start + size, index + 1
    return batches


class RowByRowMapper(FeedMapper):
    """The mapper with its batch path switched off: the reference the batch path must match."""

    def _map_columns(self, batch: Any) -> bool:
        return False


class CountingMapper(FeedMapper):
    """The mapper counting the batches its batch path took."""

    columnar = 0

    def _map_columns(self, batch: Any) -> bool:
        taken = super()._map_columns(batch)
        self.columnar += taken
        return taken


def _run(mapper: FeedMapper, batches: list[RecordBatch]) -> tuple[list[ProductDraft], MapOutcome]:
    products: list[ProductDraft] = []
    for batch in batches:
        products.extend(mapper.map_batch(batch))
    products.extend(mapper.finish())
    return products, mapper.outcome()


def _config(**overrides: Any) -> SyncConfig:
    return make_config(
        mapping=MAPPING,
        product_key="parent",
        options=["Size", "Color"],
        metafield_mappings=METAFIELDS,
        **{"default_weight_unit": "kg", **overrides},
    )


@pytest.mark.usefixtures("speedups")
@pytest.mark.parametrize(("seed", "bad_share"), [(1, 0.0), (2, 0.01), (3, 0.05), (4, 0.3)])
@pytest.mark.parametrize("sizes", [[1], [7, 13], [50, 3, 200], [5000]])
@pytest.mark.parametrize("keyed", [False, True], ids=["csv", "json"])
def test_mapping_batch_path_matches_row_path(
    seed: int, bad_share: float, sizes: list[int], keyed: bool
) -> None:
    """Mapping a batch at once changes no draft, hash, error or count: merchants see the same report."""
    rows = _feed(seed, 300, bad_share)
    records: list[Any] = [dict(zip(COLUMNS, row, strict=False)) for row in rows] if keyed else rows
    batches = _batches(records, sizes, columns=None if keyed else COLUMNS)
    config = _config()
    fast, fast_outcome = _run(CountingMapper(config), batches)
    slow, slow_outcome = _run(RowByRowMapper(config), batches)
    assert fast == slow
    assert [product.content_hash for product in fast] == [product.content_hash for product in slow]
    assert fast_outcome == slow_outcome
    if bad_share:
        assert fast_outcome.errors


def test_mapping_batch_path_is_taken_for_clean_batches() -> None:
    """Clean batches go through the batch path; a batch holding a bad row falls back, and only that one."""
    rows = _feed(5, 200, 0.0)
    rows[len(rows) // 2][COLUMNS.index("price")] = "abc"
    batches = _batches(rows, [50], columns=COLUMNS)
    mapper = CountingMapper(_config())
    products, outcome = _run(mapper, batches)
    assert mapper.columnar == len(batches) - 1
    assert [error.field for error in outcome.errors] == ["variant.price"]
    assert products


def test_mapping_batch_path_with_json_values() -> None:
    """JSON numbers, booleans and lists in a keyed feed map the same in both paths."""
    config = make_config(
        mapping={"title": "t", "variant.sku": "s", "variant.price": "p", "variant.barcode": "b",
                 "variant.inventory_quantity": "q", "variant.taxable": "x", "variant.option1": "o",
                 "product_type": "ty", "images": "im"},
        product_key="k",
    )  # fmt: skip
    records: list[Any] = [
        {"k": 1, "t": "Tee", "s": 101, "p": 19.9, "b": 4006381333931, "q": 3, "x": True, "o": 1,
         "ty": "Shirts", "im": ["https://x.test/a.jpg"]},
        {"k": 1, "t": "Tee", "s": "102", "p": "20", "b": None, "q": 2.0, "x": "no", "o": 1.5, "im": None},
        {"k": 2, "t": "Mug", "s": "M1", "p": 5, "q": True, "o": ["a"]},
        {"k": 3, "t": "Cap", "s": "C1", "p": 1, "o": {"a": 1}},
    ]  # fmt: skip
    for batches in (_batches(records, [4], columns=None), _batches(records, [1], columns=None)):
        fast, fast_outcome = _run(FeedMapper(config), batches)
        slow, slow_outcome = _run(RowByRowMapper(config), batches)
        assert (fast, fast_outcome) == (slow, slow_outcome)
        assert [product.key for product in fast] == ["1", "3"]


def test_mapping_batch_path_too_many_variants() -> None:
    """A product over Shopify's variant limit is refused the same way when it spans many batches."""
    rows = [["P1", f"S{index}", "Tee", "1", "", "", "1", "", "", str(index), "Red", "", "", "", "", ""]
            for index in range(MAX_VARIANTS + 3)]  # fmt: skip
    batches = _batches(rows, [700], columns=COLUMNS)
    fast, fast_outcome = _run(CountingMapper(_config()), batches)
    slow, slow_outcome = _run(RowByRowMapper(_config()), batches)
    assert (fast, fast_outcome) == (slow, slow_outcome)
    assert [(error.row, error.field) for error in fast_outcome.errors] == [(MAX_VARIANTS + 2, "product_key")]
