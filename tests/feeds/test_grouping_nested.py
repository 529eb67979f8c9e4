"""Grouping `nested`: a product record with its list of variants (Shopify's products.json, JSON Lines,
XML) becomes one product, product fields from the product and variant fields from each variant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from feed_support import make_config, parse_bytes

from erpsync.feeds import RecordBatch
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.grouping import Regrouper
from erpsync.mapping.pipeline import map_feed
from erpsync.models import FeedFormat

SHOPIFY_MAPPING = {
    "title": "title",
    "description": "body_html",
    "vendor": "vendor",
    "option1.name": "options.0.name",
    "variant.sku": "sku",
    "variant.price": "price",
    "variant.option1": "option1",
}
PRODUCTS = [
    {
        "id": 632910392,
        "title": "IPod Nano - 8GB",
        "body_html": "<p>It's the small iPod.</p>",
        "vendor": "Apple",
        "handle": "ipod-nano",
        "options": [{"name": "Color", "position": 1}],
        "variants": [
            {"sku": "IPOD2008PINK", "price": "199.00", "option1": "Pink"},
            {"sku": "IPOD2008RED", "price": "205.00", "option1": "Red"},
        ],
    },
    {"id": 7, "title": "Gift card", "vendor": "Shop", "handle": "gift", "options": [], "variants": []},
    {
        "id": 8,
        "title": "Mug",
        "vendor": "Shop",
        "handle": "mug",
        "options": [{"name": "Title"}],
        "variants": [{"sku": "MUG-1", "price": "5.00", "option1": "Default Title"}],
    },
]


def _map(
    data: bytes, name: str, fmt: FeedFormat, **overrides: Any
) -> tuple[dict[str, ProductDraft], MapOutcome]:
    options = {"records_path": "products"} if fmt == "json" else {}
    columns, records = parse_bytes(data, name, format=fmt, **options)
    settings: dict[str, Any] = {
        "mapping": SHOPIFY_MAPPING,
        "grouping": {"mode": "nested", "variants": "variants"},
    }
    config = make_config(**{**settings, **overrides})
    batches = [
        RecordBatch(columns, 1 + start, records[start : start + 2]) for start in range(0, len(records), 2)
    ]
    products, outcome = map_feed(config, batches)
    return {product.key: product for product in products}, outcome


def test_shopify_products_json() -> None:
    products, outcome = _map(json.dumps({"products": PRODUCTS}).encode(), "products.json", "json")
    assert [(error.row, error.sku, error.field) for error in outcome.errors] == [(2, None, "variant.sku")]
    ipod = products["IPOD2008PINK"]
    assert (ipod.title, ipod.description, ipod.vendor, ipod.options) == (
        "IPod Nano - 8GB",
        "<p>It's the small iPod.</p>",
        "Apple",
        ("Color",),
    )
    assert [
        (variant.sku, variant.price, variant.option_values, variant.row) for variant in ipod.variants
    ] == [
        ("IPOD2008PINK", "199.00", ("Pink",), 1),
        ("IPOD2008RED", "205.00", ("Red",), 1),
    ]
    assert [(variant.sku, variant.row) for variant in products["MUG-1"].variants] == [("MUG-1", 3)]
    assert sorted(products) == ["IPOD2008PINK", "MUG-1"]


def test_json_lines_keyed_by_handle_with_product_metafields() -> None:
    data = b"".join(json.dumps(product).encode() + b"\n" for product in PRODUCTS if product["variants"])
    metafields = [
        {"sourceKey": "id", "metafieldNamespace": "erp", "metafieldKey": "product_id",
         "metafieldType": "number_integer", "owner": "product"},
        {"sourceKey": "price", "metafieldNamespace": "erp", "metafieldKey": "list_price",
         "metafieldType": "number_decimal", "owner": "variant"},
    ]  # fmt: skip
    products, outcome = _map(
        data, "products.jsonl", "jsonl", product_key="handle", metafield_mappings=metafields
    )
    assert not outcome.errors
    assert sorted(products) == ["ipod-nano", "mug"]
    ipod = products["ipod-nano"]
    assert [(field.key, field.value) for field in ipod.metafields] == [("product_id", "632910392")]
    assert [[(field.key, field.value) for field in variant.metafields] for variant in ipod.variants] == [
        [("list_price", "199.00")],
        [("list_price", "205.00")],
    ]


def test_xml_with_one_variant_element_and_with_several() -> None:
    data = b"""<?xml version="1.0"?>
<catalog>
  <product><name>Tee</name><variants>
    <variant><sku>TEE-S</sku><price>19.90</price><size>S</size></variant>
    <variant><sku>TEE-M</sku><price>21.00</price><size>M</size></variant>
  </variants></product>
  <product><name>Cap</name><variants><variant><sku>CAP</sku><price>9.00</price></variant></variants></product>
</catalog>
"""
    mapping = {"title": "name", "variant.sku": "sku", "variant.price": "price", "variant.option1": "size"}
    products, outcome = _map(
        data, "feed.xml", "xml", mapping=mapping, grouping={"mode": "nested", "variants": "variants.variant"}
    )
    assert not outcome.errors
    assert [(variant.sku, variant.option_values) for variant in products["TEE-S"].variants] == [
        ("TEE-S", ("S",)),
        ("TEE-M", ("M",)),
    ]
    assert (products["CAP"].title, [variant.sku for variant in products["CAP"].variants]) == ("Cap", ["CAP"])


def test_a_product_without_variants_is_its_own_variant(tmp_path: Path) -> None:
    config = make_config(grouping={"mode": "nested", "variants": "variants"})
    stage = Regrouper(config, feed="feed.json", work_dir=tmp_path)
    record = {"name": "Poster", "sku": "POSTER", "price": "12.00"}
    out = list(stage.push(RecordBatch(None, 5, [record])))
    stage.close()
    products, outcome = map_feed(stage.config, out)
    assert not outcome.errors
    assert [
        (product.key, product.title, product.variants[0].price, product.variants[0].row)
        for product in products
    ] == [("POSTER", "Poster", "12.00", 5)]
    assert list(tmp_path.iterdir()) == []
