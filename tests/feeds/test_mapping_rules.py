"""Computed values: rules, sale prices and relative image paths, on CSV rows and keyed records."""

from __future__ import annotations

from typing import Any

import pytest
from feed_support import make_config, parse_bytes

from erpsync.feeds.errors import FeedLayoutError
from erpsync.feeds.records import CellProblem, RecordBatch
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.mapper import FeedMapper
from erpsync.mapping.rules import RuleStage, cell_name, image_resolver
from erpsync.models import SyncConfig

WOO_CSV = (
    b"SKU,Name,Regular price,Sale price,Stock status,Images,Color\n"
    b"TEE-R,Tee,20.00,15.00,instock,/wp/tee-red.jpg,Red\n"
    b"TEE-B,Tee,20.00,,OutOfStock ,https://cdn.test/tee-blue.jpg,Blue\n"
)
WOO_MAPPING = {
    "title": "Name", "variant.sku": "SKU", "variant.price": "Regular price", "variant.sale_price": "Sale price",
    "images": "Images", "variant.option1": "Color",
}  # fmt: skip
STOCK_RULE = {"path": "Stock status", "map": {"instock": "10", "outofstock": "0"}, "default": "0"}


def _woo_config(**overrides: Any) -> SyncConfig:
    data: dict[str, Any] = {
        "mapping": WOO_MAPPING,
        "product_key": "Name",
        "rules": {"variant.inventory_quantity": STOCK_RULE, "vendor": {"const": "Acme"}},
        "image_base_url": "https://shop.test/",
    }
    data.update(overrides)
    return make_config(**data)


def _csv_batch(data: bytes) -> RecordBatch:
    columns, records = parse_bytes(data)
    return RecordBatch(columns, 2, records, lines=list(range(2, 2 + len(records))))


def _map(config: SyncConfig, batch: RecordBatch) -> tuple[list[ProductDraft], MapOutcome]:
    stage = RuleStage(config)
    mapper = FeedMapper(stage.config)
    products = mapper.map_batch(stage.push(batch)) + mapper.finish()
    return products, mapper.outcome()


def test_plain_configs_skip_the_stage() -> None:
    """A config computing nothing is mapped as before, without the stage's per-row cost."""
    assert RuleStage.needed(make_config()) is False
    assert RuleStage.needed(make_config(image_base_url="https://shop.test/")) is False
    assert RuleStage.needed(make_config(rules={"vendor": {"const": "Acme"}})) is True
    assert RuleStage.needed(make_config(mapping={**WOO_MAPPING})) is True
    images = {"variant.sku": "sku", "images": "img"}
    assert RuleStage.needed(make_config(mapping=images, image_base_url="https://shop.test/")) is True


def test_csv_rows_get_computed_cells_after_their_own() -> None:
    """WooCommerce's CSV: stock status as a quantity, a constant vendor, the sale price as the price."""
    stage = RuleStage(_woo_config())
    batch = _csv_batch(WOO_CSV)
    out = stage.push(batch)
    width = len(WOO_CSV.split(b"\n")[0].split(b","))
    assert out.columns is not None
    assert batch.columns == out.columns[:width]
    computed = {
        name: tuple(row[index] for row in out.records)
        for index, name in enumerate(out.columns)
        if index >= width
    }
    assert computed == {
        cell_name("variant.inventory_quantity"): ("10", "0"),
        cell_name("vendor"): ("Acme", "Acme"),
        cell_name("images"): ("https://shop.test/wp/tee-red.jpg", "https://cdn.test/tee-blue.jpg"),
        cell_name("variant.price"): ("15.00", "20.00"),
        cell_name("variant.compare_at_price"): ("20.00", ""),
    }
    assert (out.first_row, out.lines, out.rows, out.problems) == (2, [2, 3], None, False)
    assert stage.config.rules == {}
    assert "variant.sale_price" not in stage.config.mapping
    assert batch.records[0][-1] == "Red"  # the parser's rows are not changed


def test_woocommerce_rows_map_to_sale_and_regular_prices() -> None:
    """On sale: the sale price is the price and the regular one the compare-at; else the regular price."""
    products, outcome = _map(_woo_config(), _csv_batch(WOO_CSV))
    assert not outcome.errors
    (tee,) = products
    assert tee.vendor == "Acme"
    assert tee.options == ("Color",)
    assert tee.images == ("https://shop.test/wp/tee-red.jpg", "https://cdn.test/tee-blue.jpg")
    red, blue = tee.variants
    assert (red.price, red.compare_at_price, red.inventory_quantity) == ("15.00", "20.00", 10)
    assert (blue.price, blue.compare_at_price, blue.inventory_quantity) == ("20.00", None, 0)


def test_google_merchant_prices_with_their_currency() -> None:
    """Google Merchant writes "30.00 USD" and a sale_price beside it; the sale price wins."""
    feed = b"id\ttitle\tprice\tsale_price\nG1\tMug\t30.00 USD\t25.00 USD\nG2\tCup\t12.50 USD\t\n"
    columns, records = parse_bytes(feed, delimiter="\t")
    mapping = {
        "title": "title",
        "variant.sku": "id",
        "variant.price": "price",
        "variant.sale_price": "sale_price",
    }
    products, outcome = _map(make_config(mapping=mapping), RecordBatch(columns, 2, records))
    assert not outcome.errors
    prices = [(p.variants[0].price, p.variants[0].compare_at_price) for p in products]
    assert prices == [("25.00", "30.00"), ("12.50", None)]


def test_sale_price_keeps_a_mapped_compare_at_price_when_not_on_sale() -> None:
    """Magento's special_price: off sale, the feed's own compare-at price is kept."""
    config = make_config(
        mapping={
            "variant.sku": "sku", "variant.price": "price", "variant.compare_at_price": "msrp",
            "variant.sale_price": "special_price",
        }
    )  # fmt: skip
    records = [
        {"sku": "A", "price": "30", "msrp": "40", "special_price": "25"},
        {"sku": "B", "price": "30", "msrp": "40", "special_price": None},
        {"sku": "C", "price": "30", "special_price": " "},
    ]
    out = RuleStage(config).push(RecordBatch(None, 1, records))
    price, compare = cell_name("variant.price"), cell_name("variant.compare_at_price")
    assert [(record[price], record[compare]) for record in out.records] == [
        ("25", "30"),
        ("30", "40"),
        ("30", None),
    ]


def test_keyed_records_get_computed_keys_on_copies() -> None:
    """Nested paths in rules, the first non-empty of several fields, records left as the parser made them."""
    config = make_config(
        mapping={"variant.sku": "sku", "variant.image": "media.image"},
        rules={
            "status": {"path": "stock.status", "map": {"In Stock": "active"}, "default": "draft"},
            "title": {"first": ["meta_title", "name"]},
        },
        image_base_url="https://shop.test/media/catalog/product",
    )
    records: list[Any] = [
        {
            "sku": "MH01",
            "name": "Hoodie",
            "stock": {"status": " in stock "},
            "media": {"image": "/m/h/mh01.jpg"},
        },
        {"sku": "MH02", "name": "Jacket", "meta_title": "", "stock": {"status": "backorder"}},
        ["not", "an", "object"],
    ]
    stage = RuleStage(config)
    out = stage.push(RecordBatch(None, 1, records, rows=[4, 9, 12]))
    assert out.rows == [4, 9, 12]
    first, second, third = out.records
    assert first[cell_name("status")] == "active"
    assert second[cell_name("status")] == "draft"
    assert first[cell_name("title")] == "Hoodie"
    assert second[cell_name("title")] == "Jacket"
    assert first[cell_name("variant.image")] == "https://shop.test/media/catalog/product/m/h/mh01.jpg"
    assert second[cell_name("variant.image")] is None
    assert third == ["not", "an", "object"]
    assert cell_name("status") not in records[0]
    assert stage.config.mapping["variant.image"] == cell_name("variant.image")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("In Stock", "active"), ("  IN STOCK ", "active"), ("discontinued", "discontinued"), ("", ""),
     (None, None), (1, "one")],
)  # fmt: skip
def test_value_maps_match_trimmed_and_case_insensitively(raw: Any, expected: Any) -> None:
    """Keys match however the feed cases and pads them; an unlisted value is kept without a default."""
    config = make_config(
        mapping={"variant.sku": "sku"},
        rules={"status": {"path": "s", "map": {"in stock": "active", "1": "one"}}},
    )
    out = RuleStage(config).push(RecordBatch(None, 1, [{"sku": "A", "s": raw}]))
    assert out.records[0][cell_name("status")] == expected


def test_a_value_that_cannot_be_computed_rejects_its_row() -> None:
    """A value map given a list cannot pick a value: that row is rejected with the reason, the rest map."""
    config = make_config(
        mapping={"variant.sku": "sku", "title": "name"},
        rules={"product_type": {"path": "type", "map": {"a": "Apparel"}}},
    )
    records = [{"sku": "A", "name": "Tee", "type": ["a", "b"]}, {"sku": "B", "name": "Mug", "type": "A"}]
    batch = RuleStage(config).push(RecordBatch(None, 1, records))
    assert batch.problems is True
    assert isinstance(batch.records[0][cell_name("product_type")], CellProblem)
    products, outcome = _map(config, RecordBatch(None, 1, records))
    assert [product.product_type for product in products] == ["Apparel"]
    (error,) = outcome.errors
    assert (error.row, error.field) == (1, "product_type")
    assert "a value map needs a single value" in error.message


@pytest.mark.parametrize(
    ("base", "raw", "expected"),
    [
        ("https://shop.test", "/m/h/mh01-black_main.jpg", "https://shop.test/m/h/mh01-black_main.jpg"),
        ("https://shop.test/media/", "m/h/a.jpg", "https://shop.test/media/m/h/a.jpg"),
        ("https://shop.test/media", "/a.jpg,/b.jpg", "https://shop.test/media/a.jpg,https://shop.test/media/b.jpg"),
        ("https://shop.test/media/", "/a.jpg | https://cdn.test/b.jpg", "https://shop.test/media/a.jpg | https://cdn.test/b.jpg"),
        ("https://shop.test/", "//cdn.test/c.jpg", "https://cdn.test/c.jpg"),
        ("https://shop.test/", "http://old.test/d.jpg", "http://old.test/d.jpg"),
        ("https://shop.test/", ["/a.jpg", "https://cdn.test/b.jpg"], ["https://shop.test/a.jpg", "https://cdn.test/b.jpg"]),
        ("https://shop.test/", None, None),
    ],
)  # fmt: skip
def test_relative_image_paths_resolve_against_the_base(base: str, raw: Any, expected: Any) -> None:
    """Magento's relative paths become URLs under image_base_url; absolute URLs stay as they are."""
    assert image_resolver(base)(raw) == expected


def test_option_names_survive_a_computed_option() -> None:
    """An option whose value a rule computes keeps the name of the field it reads."""
    config = make_config(
        mapping={"variant.sku": "sku", "title": "name", "variant.option2": "size"},
        rules={"variant.option1": {"path": "colour", "map": {"rd": "Red"}}},
    )
    products, outcome = _map(
        config, RecordBatch(None, 1, [{"sku": "A", "name": "Tee", "colour": "rd", "size": "M"}])
    )
    assert not outcome.errors
    assert products[0].options == ("Colour", "Size")
    assert products[0].variants[0].option_values == ("Red", "M")


def test_short_csv_rows_and_missing_rule_columns() -> None:
    """A short row's missing cells are empty; a rule reading a column the header lacks is a layout error."""
    config = make_config(mapping={"variant.sku": "sku"}, rules={"title": {"first": ["name", "alt"]}})
    out = RuleStage(config).push(RecordBatch(("sku", "alt", "name"), 2, [["A", "Alt"], ["B"]]))
    assert [row[3:] for row in out.records] == [["Alt"], [""]]
    assert all(len(row) == 4 for row in out.records)
    with pytest.raises(FeedLayoutError, match="'name'"):
        RuleStage(config).push(RecordBatch(("sku", "alt"), 2, [["A", "B"]]))


def test_constants_on_csv_and_an_empty_batch() -> None:
    """A rule reading no field still fills every row; a batch without rows still names the computed columns."""
    config = make_config(rules={"vendor": {"const": "Acme"}})
    stage = RuleStage(config)
    out = stage.push(RecordBatch(("name", "sku", "price"), 2, [["Tee", "A", "1.00"], ["Mug", "B", "2.00"]]))
    assert [row[-1] for row in out.records] == ["Acme", "Acme"]
    empty = stage.push(RecordBatch(("name", "sku", "price"), 4, []))
    assert empty.columns == ("name", "sku", "price", cell_name("vendor"))
    assert empty.records == []
    assert stage.config.mapping["vendor"] == cell_name("vendor")


def test_sale_price_and_images_given_by_rules() -> None:
    """A sale price a rule picks works like a mapped one; a rule's image paths are resolved too."""
    config = make_config(
        mapping={"variant.sku": "sku", "variant.price": "price"},
        rules={
            "variant.sale_price": {"first": ["promo", "special"]},
            "images": {"path": "gallery", "map": {"none": ""}},
        },
        image_base_url="https://shop.test/img",
    )
    records = [
        {"sku": "A", "price": "10", "special": "8", "gallery": "a.jpg b.jpg"},
        {"sku": "B", "price": "10", "gallery": "NONE"},
    ]
    out = RuleStage(config).push(RecordBatch(None, 1, records))
    price, compare, images = (cell_name(t) for t in ("variant.price", "variant.compare_at_price", "images"))
    assert [(r[price], r[compare], r[images]) for r in out.records] == [
        ("8", "10", "https://shop.test/img/a.jpg https://shop.test/img/b.jpg"),
        ("10", None, ""),
    ]
