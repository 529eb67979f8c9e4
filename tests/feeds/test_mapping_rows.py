"""Mapping: rows become products with their variants; every bad row is explained, its product held back."""

from __future__ import annotations

from typing import Any

import pytest
from feed_support import make_config, parse_bytes

from erpsync.feeds import FeedLayoutError, RecordBatch
from erpsync.mapping import MAX_VARIANTS, FeedMapper, map_feed

HEADER = "parent,sku,name,price,size,color,stock,material,weight,rrp"
MAPPING = {
    "title": "name",
    "variant.sku": "sku",
    "variant.price": "price",
    "variant.option1": "size",
    "variant.option2": "color",
    "variant.inventory_quantity": "stock",
    "variant.weight": "weight",
    "variant.compare_at_price": "rrp",
}
METAFIELDS = [
    {"sourceKey": "material", "metafieldNamespace": "custom", "metafieldKey": "material",
     "metafieldType": "number_integer", "owner": "variant"},
]  # fmt: skip


def _map(rows: list[str], **overrides: Any) -> tuple[list[Any], Any]:
    config = make_config(
        mapping=MAPPING,
        product_key="parent",
        options=["Size", "Color"],
        metafield_mappings=METAFIELDS,
        **{"default_weight_unit": "kg", **overrides},
    )
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    columns, records = parse_bytes(data, "feed.csv")
    return map_feed(config, [RecordBatch(columns, 2, records)])


GOOD = "P1,S1,Tee,19.90,S,Red,3,5,0.2,25"

# label, rows, (row, sku, field, message fragment) expected, rejected row count
ROW_ERRORS: list[tuple[str, list[str], list[tuple[int, str | None, str, str]], int]] = [
    ("no sku", ["P1,,Tee,1,S,Red,1,,,"], [(2, None, "variant.sku", "no SKU")], 1),
    ("no sku nor key", [",,Tee,1,S,Red,1,,,"], [(2, None, "variant.sku", "no SKU")], 1),
    ("unparseable price", ["P1,S1,Tee,abc,S,Red,1,,,"], [(2, "S1", "variant.price", "not a number")], 1),
    ("price with comma", ["P1,S1,Tee,\"19,90\",S,Red,1,,,"], [(2, "S1", "variant.price", "decimal_comma")], 1),
    ("negative price", ["P1,S1,Tee,-1.00,S,Red,1,,,"], [(2, "S1", "variant.price", "negative")], 1),
    ("empty price", ["P1,S1,Tee,,S,Red,1,,,"], [(2, "S1", "variant.price", "empty")], 1),
    ("negative compare-at", ["P1,S1,Tee,1,S,Red,1,,,-2"], [(2, "S1", "variant.compare_at_price", "negative")], 1),
    ("bad stock", ["P1,S1,Tee,1,S,Red,1.5,,,"], [(2, "S1", "variant.inventory_quantity", "whole number")], 1),
    ("bad weight", ["P1,S1,Tee,1,S,Red,1,,heavy,"], [(2, "S1", "variant.weight", "not a number")], 1),
    ("bad metafield", ["P1,S1,Tee,1,S,Red,1,steel,,"], [(2, "S1", "metafield custom.material", "whole number")], 1),
    ("empty title", ["P1,S1,,1,S,Red,1,,,"], [(2, "S1", "title", "empty")], 1),
    ("duplicate sku in product", [GOOD, "P1,S1,Tee,1,M,Red,1,,,"],
     [(2, "S1", "variant.sku", "again at row 3"), (3, "S1", "variant.sku", "already appears at row 2")], 2),
    ("duplicate sku across products", [GOOD, "P2,S1,Mug,1,,,1,,,"],
     [(2, "S1", "variant.sku", "again at row 3"), (3, "S1", "variant.sku", "already appears at row 2")], 2),
    ("option values collide", [GOOD, "P1,S2,Tee,1,S,Red,1,,,"],
     [(3, "S2", "variant.option1", "same as row 2")], 2),
    ("option value missing", [GOOD, "P1,S2,Tee,1,M,,1,,,"], [(3, "S2", "variant.option2", "empty")], 2),
    ("product rows not adjacent", [GOOD, "P2,T1,Mug,1,,,1,,,", "P1,S2,Tee,1,M,Red,1,,,"],
     [(4, "S2", "product_key", "not adjacent")], 2),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "rows", "expected", "rejected"), ROW_ERRORS, ids=[c[0] for c in ROW_ERRORS]
)
def test_mapping_row_errors(
    label: str, rows: list[str], expected: list[tuple[int, str | None, str, str]], rejected: int
) -> None:
    """Each kind of bad row is reported with row, SKU, field and reason, and its product is not written."""
    products, outcome = _map(rows)
    got = [(error.row, error.sku, error.field) for error in outcome.errors]
    assert got == [(row, sku, field) for row, sku, field, _ in expected]
    for error, (_, _, _, fragment) in zip(outcome.errors, expected, strict=True):
        assert fragment in error.message
    assert outcome.rejected_rows == rejected
    assert outcome.rows == len(rows)
    assert outcome.mapped_rows == outcome.rows - rejected
    rejected_keys = {row.split(",")[0] for row in rows if row.split(",")[0]}
    assert all(product.key not in outcome.rejected_keys for product in products)
    assert {product.key for product in products} | set(outcome.rejected_keys) == rejected_keys


def test_mapping_bad_row_spares_other_products() -> None:
    """One bad product is left out while the products around it go on."""
    products, outcome = _map([GOOD, "P2,T1,Mug,-1,,,1,,,", "P3,U1,Cap,5,,,1,,,"])
    assert [product.key for product in products] == ["P1", "P3"]
    assert (outcome.rows, outcome.mapped_rows, outcome.rejected_rows) == (3, 2, 1)
    assert outcome.rejected_keys == {"P2"}
    assert outcome.rejected_skus == {"T1"}


def test_mapping_too_many_variants() -> None:
    """A product over Shopify's 2048 variants is rejected with one error naming the first extra row."""
    rows = [f"P1,S{index},Tee,1,{index},Red,1,,," for index in range(MAX_VARIANTS + 2)]
    products, outcome = _map(rows)
    assert products == []
    assert [(error.row, error.field) for error in outcome.errors] == [(MAX_VARIANTS + 2, "product_key")]
    assert outcome.rejected_rows == MAX_VARIANTS + 2


def test_mapping_more_than_three_options_refused_by_config() -> None:
    """Shopify allows 3 options; a config naming 4 is refused before any feed is read."""
    with pytest.raises(ValueError, match="options"):
        make_config(options=["a", "b", "c", "d"])


def test_mapping_groups_variants_into_products() -> None:
    """Rows sharing a product key become one product with its options and variants in feed order."""
    products, outcome = _map([GOOD, 'P1,S2,Tee,21,M,Blue,0,7,"1.5 kg",', "P2,T1,Mug,5,,,2,,,"])
    tee, mug = products
    assert tee.options == ("Size", "Color")
    assert [variant.option_values for variant in tee.variants] == [("S", "Red"), ("M", "Blue")]
    assert [variant.price for variant in tee.variants] == ["19.90", "21.00"]
    assert tee.variants[0].compare_at_price == "25.00"
    assert (tee.variants[1].weight, tee.variants[1].weight_unit) == ("1.5", "KILOGRAMS")
    assert tee.variants[1].metafields[0].value == "7"
    assert (mug.options, mug.variants[0].option_values) == ((), ())
    assert (outcome.products, outcome.variants, outcome.rejected_rows) == (2, 3, 0)


def test_mapping_late_duplicate_withdraws_emitted_product() -> None:
    """A SKU repeated far below withdraws the product already emitted, so the engine can drop it."""
    config = make_config(
        mapping=MAPPING, product_key="parent", options=["Size", "Color"], default_weight_unit="kg"
    )
    mapper = FeedMapper(config)
    columns = tuple(HEADER.split(","))
    first = mapper.map_batch(
        RecordBatch(columns, 2, [GOOD.split(","), ["P2", "T1", "Mug", "1", "", "", "1", "", "", ""]])
    )
    assert [product.key for product in first] == ["P1"]
    mapper.map_batch(RecordBatch(columns, 4, [["P3", "S1", "Cap", "1", "", "", "1", "", "", ""]]))
    mapper.finish()
    outcome = mapper.outcome()
    assert outcome.rejected_keys == {"P1", "P3"}
    assert (outcome.products, outcome.mapped_rows, outcome.rejected_rows) == (1, 1, 2)


def test_mapping_missing_column_is_fatal() -> None:
    """A mapped column absent from the header (wrong delimiter, wrong file) stops the run up front."""
    config = make_config()
    columns, records = parse_bytes(b"sku;name;price\nA;x;1\n", "feed.csv")
    with pytest.raises(FeedLayoutError, match="not in the header"):
        map_feed(config, [RecordBatch(columns, 2, records)])


def test_mapping_keyed_records_without_sku_field_is_fatal() -> None:
    """JSON records none of which has the SKU field mean a wrong records_path or mapping, not bad rows."""
    with pytest.raises(FeedLayoutError, match="SKU field"):
        map_feed(make_config(), [RecordBatch(None, 1, [{"id": 1}, {"id": 2}])])


def test_mapping_dot_paths_and_non_objects() -> None:
    """Dot paths reach into nested JSON and XML fields; a record that is not an object is a row error."""
    config = make_config(
        mapping={"title": "info.name", "variant.sku": "@id", "variant.price": "pricing.net.#text",
                 "images": "media.images", "tags": "tags", "vendor": "brand.name"},
    )  # fmt: skip
    records = [
        {"@id": "A", "info": {"name": "Tee"}, "pricing": {"net": {"#text": "1,234.5"}},
         "media": {"images": ["https://x.test/a.jpg", "https://x.test/b.jpg"]}, "tags": "b, a,b,", "brand.name": "Acme"},
        "not an object",
    ]  # fmt: skip
    products, outcome = map_feed(config, [RecordBatch(None, 1, records)])
    (product,) = products
    assert (product.title, product.variants[0].price, product.vendor) == ("Tee", "1234.50", "Acme")
    assert product.images == ("https://x.test/a.jpg", "https://x.test/b.jpg")
    assert product.tags == ("a", "b")
    assert [(error.row, error.field) for error in outcome.errors] == [(2, "record")]


def test_mapping_product_fields() -> None:
    """Status, vendor, type, barcode, taxable and images land where Shopify expects them, normalized."""
    config = make_config(
        mapping={"title": "t", "variant.sku": "s", "variant.price": "p", "status": "st", "vendor": "v",
                 "product_type": "ty", "variant.barcode": "b", "variant.taxable": "tx", "images": "im",
                 "description": "d", "handle": "h", "variant.weight": "w", "variant.weight_unit": "wu"},
        format_options={"decimal_comma": True, "tags_separator": ";"},
    )  # fmt: skip
    record = {"t": "Tee", "s": "A", "p": "1.234,5", "st": "Draft", "v": "Acme", "ty": "Shirts", "b": 4006381333931,
              "tx": "no", "im": "https://x.test/a.jpg|https://x.test/b.jpg", "d": "<p>Soft</p>", "h": "tee",
              "w": "0,25", "wu": "g"}  # fmt: skip
    (product,), _ = map_feed(config, [RecordBatch(None, 1, [record])])
    variant = product.variants[0]
    assert (product.status, product.vendor, product.product_type, product.handle) == (
        "DRAFT",
        "Acme",
        "Shirts",
        "tee",
    )
    assert (variant.price, variant.barcode, variant.taxable) == ("1234.50", "4006381333931", False)
    assert (variant.weight, variant.weight_unit) == ("0.25", "GRAMS")
    assert product.description == "<p>Soft</p>"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [("st", "live", "active, draft"), ("im", "ftp://x/a.jpg", "http(s) URL"), ("tx", "maybe", "true or false"),
     ("wu", "stone", "weight unit")],
)  # fmt: skip
def test_mapping_product_field_errors(field: str, value: str, fragment: str) -> None:
    """A product-level value that cannot be sent rejects the product with the field named."""
    config = make_config(
        mapping={"title": "t", "variant.sku": "s", "variant.price": "p", "status": "st", "images": "im",
                 "variant.taxable": "tx", "variant.weight_unit": "wu"},
    )  # fmt: skip
    record = {"t": "Tee", "s": "A", "p": "1", field: value}
    products, outcome = map_feed(config, [RecordBatch(None, 1, [record])])
    assert products == []
    assert fragment in outcome.errors[0].message
