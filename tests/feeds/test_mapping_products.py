"""Products as shops export them: option names per product, Shopify's Default Title, galleries from
every row, image-only rows, weights without a unit, unreadable cells, rows and lines of regrouped feeds."""

from __future__ import annotations

from typing import Any

import pytest
from feed_support import make_config, parse_bytes

from erpsync.feeds import RecordBatch
from erpsync.feeds.records import CellProblem
from erpsync.mapping import FeedMapper, map_feed

# Shopify's product CSV (help.shopify.com/en/manual/products/import-export/using-csv): a product's
# first row holds its fields, the next rows its other variants, rows with only Image Src more images.
SHOPIFY_CSV = b"""Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Grams,Variant Price,Image Src
plain-mug,Plain Mug,Title,Default Title,,,MUG-1,350,9.00,https://cdn.example.com/mug.jpg
tee,Tee,Size,S,Color,Red,TEE-S-R,145,19.00,https://cdn.example.com/tee-red.jpg
tee,,,M,,Red,TEE-M-R,150,19.00,https://cdn.example.com/tee-red.jpg
tee,,,,,,,,,https://cdn.example.com/tee-back.jpg
cap,Cap,Size,One,,,CAP-1,80,12.00,
cap,,,Two,,,CAP-2,80,12.00,https://cdn.example.com/cap.jpg
"""
SHOPIFY_MAPPING = {
    "title": "Title", "variant.sku": "Variant SKU", "variant.price": "Variant Price",
    "variant.weight": "Variant Grams", "images": "Image Src",
    "option1.name": "Option1 Name", "variant.option1": "Option1 Value",
    "option2.name": "Option2 Name", "variant.option2": "Option2 Value",
}  # fmt: skip


def _shopify(**overrides: Any) -> tuple[list[Any], Any]:
    config = make_config(
        mapping=SHOPIFY_MAPPING, product_key="Handle", **{"default_weight_unit": "g", **overrides}
    )
    columns, records = parse_bytes(SHOPIFY_CSV, "products_export.csv")
    return map_feed(config, [RecordBatch(columns, 2, records)])


@pytest.mark.usefixtures("speedups")
def test_shopify_csv_products_keep_their_own_options_and_images() -> None:
    products, outcome = _shopify()
    assert outcome.errors == ()
    by_key = {product.key: product for product in products}
    assert list(by_key) == ["plain-mug", "tee", "cap"]
    mug, tee, cap = by_key["plain-mug"], by_key["tee"], by_key["cap"]
    # Title / Default Title is Shopify's "no options".
    assert mug.options == ()
    assert mug.variants[0].option_values == ()
    # Names from the product's first row; a colour only this product has.
    assert tee.options == ("Size", "Color")
    assert [variant.option_values for variant in tee.variants] == [("S", "Red"), ("M", "Red")]
    # A size-only product in a size+colour feed: its empty second option is not an option of it.
    assert cap.options == ("Size",)
    assert [variant.option_values for variant in cap.variants] == [("One",), ("Two",)]
    # Every row's images, in order, each once; the image-only row is no variant.
    assert tee.images == ("https://cdn.example.com/tee-red.jpg", "https://cdn.example.com/tee-back.jpg")
    assert [variant.sku for variant in tee.variants] == ["TEE-S-R", "TEE-M-R"]
    assert cap.images == ("https://cdn.example.com/cap.jpg",)
    # Variant Grams are grams, as the config says.
    assert (tee.variants[0].weight, tee.variants[0].weight_unit) == ("145", "GRAMS")
    assert (outcome.rows, outcome.rejected_rows) == (6, 0)


def test_a_weight_without_a_unit_is_never_kilograms() -> None:
    products, outcome = _shopify(default_weight_unit=None)
    assert products == []
    assert {error.field for error in outcome.errors} == {"variant.weight"}
    first = outcome.errors[0]
    assert "has no unit; set default_weight_unit or map variant.weight_unit" in first.message
    assert (first.row, first.sku, first.key) == (2, "MUG-1", "plain-mug")


def test_a_product_with_only_image_rows_is_rejected_by_name() -> None:
    data = b"Handle,Title,Variant SKU,Variant Price,Image Src\nghost,Ghost,,,https://cdn.example.com/g.jpg\n"
    config = make_config(
        mapping={
            "title": "Title",
            "variant.sku": "Variant SKU",
            "variant.price": "Variant Price",
            "images": "Image Src",
        },
        product_key="Handle",
    )
    columns, records = parse_bytes(data, "products_export.csv")
    products, outcome = map_feed(config, [RecordBatch(columns, 2, records)])
    assert products == []
    assert outcome.rejected_keys == {"ghost"}
    assert "only images" in outcome.errors[0].message


@pytest.mark.usefixtures("speedups")
def test_an_unreadable_cell_rejects_its_row_only() -> None:
    config = make_config(
        product_key="parent", mapping={"title": "name", "variant.sku": "sku", "variant.price": "price"}
    )
    columns = ("parent", "sku", "name", "price")
    records = [
        ["P1", "A-1", "Tee", "10.00"],
        [
            "P2",
            "B-1",
            CellProblem("is 9000000 characters, over format_options.max_cell_size (8388608)"),
            "5.00",
        ],
        ["P3", "C-1", "Cap", "7.00"],
    ]
    products, outcome = map_feed(config, [RecordBatch(columns, 2, records, problems=True)])
    assert [product.key for product in products] == ["P1", "P3"]
    (error,) = outcome.errors
    assert (error.row, error.sku, error.field, error.key) == (3, "B-1", "title", "P2")
    assert "over format_options.max_cell_size" in error.message


@pytest.mark.usefixtures("speedups")
def test_regrouped_rows_keep_the_row_and_line_they_came_from() -> None:
    """A batch whose rows are not consecutive (a sorted feed) names each row as the file has it."""
    config = make_config(
        product_key="parent", mapping={"title": "name", "variant.sku": "sku", "variant.price": "price"}
    )
    columns = ("parent", "sku", "name", "price")
    records = [["P1", "A-1", "Tee", "10.00"], ["P1", "A-2", "Tee", "x"], ["P2", "B-1", "Cap", "3.00"]]
    batch = RecordBatch(columns, 9, records, rows=[9, 40, 12], lines=[11, 47, 14])
    mapper = FeedMapper(config, feed="products.csv")
    products = mapper.map_batch(batch) + mapper.finish()
    assert [product.key for product in products] == ["P2"]
    assert products[0].variants[0].row == 12
    (error,) = mapper.outcome().errors
    assert (error.row, error.line, error.sku, error.field) == (40, 47, "A-2", "variant.price")


def test_a_mapped_path_no_record_has_is_reported() -> None:
    config = make_config(
        mapping={"title": "name", "variant.sku": "sku", "variant.price": "price", "vendor": "brand"}
    )
    records = [{"sku": "A", "name": "Tee", "price": "1.00"}, {"sku": "B", "name": "Cap", "price": "2.00"}]
    products, outcome = map_feed(config, [RecordBatch(None, 1, records)])
    assert len(products) == 2
    assert outcome.missing_paths == ("brand",)


def test_a_path_only_a_rule_reads_is_reported_by_its_own_name() -> None:
    """A rule's paths are the feed's fields too: one that no record has is named as the merchant
    wrote it (`brand.name`, `label`), never as the computed cell the mapper reads."""
    config = make_config(
        mapping={"variant.sku": "sku", "variant.price": "price"},
        rules={
            "title": {"first": ["name", "label"]},
            "vendor": {"path": "brand.name"},
            "product_type": {"const": "Tee"},
        },
    )
    records = [{"sku": "A", "price": "1.00", "name": "Tee"}, {"sku": "B", "price": "2.00", "name": "Cap"}]
    products, outcome = map_feed(config, [RecordBatch(None, 1, records)])
    assert [(product.title, product.product_type) for product in products] == [("Tee", "Tee"), ("Cap", "Tee")]
    assert outcome.missing_paths == ("brand.name", "label")
