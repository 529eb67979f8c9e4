"""Grouping `parent`: WooCommerce's parent and variation rows and Magento's configurable products with
their listed children become products whose fields come from the parent, which is never a variant;
every variant keeps its row, and the files sorted on disk are gone after the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feed_support import make_config, parse_bytes

from erpsync.feeds import RecordBatch
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.grouping import Regrouper
from erpsync.mapping.pipeline import map_feed

WOO_HEADER = "ID,Type,SKU,Name,Parent,Regular price,Attribute 1 name,Attribute 1 value(s),Description"
# As WooCommerce's exporter writes `Parent`: the parent's SKU, or `id:` and its ID when it has none.
WOO_ROWS = [
    "11,variation,TEE-S,Tee - S,TEE,19.90,Size,S,",
    "12,variation,TEE-M,Tee - M,TEE,21.00,Size,M,",
    '10,variable,TEE,Tee,,,Size,"S, M",Soft cotton',
    "20,simple,MUG,Mug,,5.00,,,A mug",
    '30,variable,HOOD,Hoodie,,,Size,"M, L",Warm',
    "31,variation,HOOD-M,Hoodie - M,HOOD,39.00,Size,M,",
    "41,variation,GONE-S,Gone - S,id:40,9.00,Size,S,",
    "32,variation,HOOD-L,Hoodie - L,HOOD,41.00,Size,L,",
]
WOO_MAPPING = {
    "title": "Name",
    "description": "Description",
    "variant.sku": "SKU",
    "variant.price": "Regular price",
    "option1.name": "Attribute 1 name",
    "variant.option1": "Attribute 1 value(s)",
}

MAGENTO_HEADER = "sku,product_type,name,price,additional_attributes,configurable_variations,description"
MAGENTO_ROWS = [
    'MH01-XS-Black,simple,Chaz Hoodie-XS-Black,52.00,"color=Black,size=XS",,',
    'MH01-XS-Blue,simple,Chaz Hoodie-XS-Blue,54.00,"color=Blue,size=XS",,',
    "24-MB01,simple,Joust Duffle Bag,34.00,,,A bag",
    'MH01,configurable,Chaz Kangeroo Hoodie,99.00,,"sku=MH01-XS-Black,size=XS,color=Black|'
    'sku=MH01-XS-Blue, size=XS, color=Light Blue|sku=MH01-XL-Red,size=XL,color=Red",Ideal for cold weather',
    "MH02-S,simple,Teton Hoodie-S,70.00,size=S,,",
]
MAGENTO_MAPPING = {
    "title": "name",
    "description": "description",
    "variant.sku": "sku",
    "variant.price": "price",
    "variant.option1": "configurable_variations.size",
    "variant.option2": "configurable_variations.color",
}


def _map(
    header: str, rows: list[str], work_dir: Path | None = None, **overrides: Any
) -> tuple[dict[str, ProductDraft], MapOutcome]:
    columns, records = parse_bytes(("\n".join([header, *rows]) + "\n").encode(), "feed.csv")
    stage = Regrouper(make_config(**overrides), feed="feed.csv", work_dir=work_dir, run_bytes=300)
    try:
        out = [batch for start in range(0, len(records), 3)
               for batch in stage.push(RecordBatch(columns, 2 + start, records[start : start + 3]))]  # fmt: skip
        products, outcome = map_feed(stage.config, [*out, *stage.finish()])
    finally:
        stage.close()
    return {product.key: product for product in products}, outcome


def _woo(work_dir: Path | None = None, **grouping: Any) -> tuple[dict[str, ProductDraft], MapOutcome]:
    return _map(
        WOO_HEADER,
        WOO_ROWS,
        work_dir,
        mapping=WOO_MAPPING,
        grouping={"mode": "parent", "parent": "Parent", "parent_id": "ID", **grouping},
    )


def test_woocommerce_variations_before_and_after_their_parent(tmp_path: Path) -> None:
    products, outcome = _woo(tmp_path)
    tee = products["TEE"]
    assert (tee.title, tee.description, tee.options) == ("Tee", "Soft cotton", ("Size",))
    assert [(variant.sku, variant.price, variant.option_values, variant.row) for variant in tee.variants] == [
        ("TEE-S", "19.90", ("S",), 2),
        ("TEE-M", "21.00", ("M",), 3),
    ]
    hoodie = products["HOOD"]
    assert hoodie.title == "Hoodie"
    assert [(variant.sku, variant.row) for variant in hoodie.variants] == [("HOOD-M", 7), ("HOOD-L", 9)]
    assert [variant.sku for variant in products["MUG"].variants] == ["MUG"]
    skus = {variant.sku for product in products.values() for variant in product.variants}
    assert not skus & {"TEE", "HOOD"}, "a parent row is never a variant"
    assert [(error.row, error.sku, error.message) for error in outcome.errors] == [
        (8, "GONE-S", "parent 'id:40' is not in the feed")
    ]
    assert list(tmp_path.iterdir()) == []


def test_woocommerce_parent_named_by_sku() -> None:
    rows = [row.replace("id:10", "TEE").replace("id:30", "HOOD") for row in WOO_ROWS if "GONE" not in row]
    products, outcome = _map(
        WOO_HEADER, rows, mapping=WOO_MAPPING, grouping={"mode": "parent", "parent": "Parent"}
    )
    assert not outcome.errors
    assert sorted(products) == ["HOOD", "MUG", "TEE"]
    assert [variant.sku for variant in products["TEE"].variants] == ["TEE-S", "TEE-M"]


def test_magento_configurable_lists_its_children_after_them(tmp_path: Path) -> None:
    products, outcome = _map(
        MAGENTO_HEADER,
        MAGENTO_ROWS,
        tmp_path,
        mapping=MAGENTO_MAPPING,
        options=["Size", "Color"],
        grouping={"mode": "parent", "children": "configurable_variations"},
    )
    assert not outcome.errors
    hoodie = products["MH01"]
    assert (hoodie.title, hoodie.description, hoodie.options) == (
        "Chaz Kangeroo Hoodie",
        "Ideal for cold weather",
        ("Size", "Color"),
    )
    assert [
        (variant.sku, variant.price, variant.option_values, variant.row) for variant in hoodie.variants
    ] == [
        ("MH01-XS-Black", "52.00", ("XS", "Black"), 2),
        ("MH01-XS-Blue", "54.00", ("XS", "Light Blue"), 3),
    ]
    assert [variant.sku for variant in products["24-MB01"].variants] == ["24-MB01"]
    assert [variant.sku for variant in products["MH02-S"].variants] == ["MH02-S"], "listed by no parent"
    assert sorted(products) == ["24-MB01", "MH01", "MH02-S"]
    assert list(tmp_path.iterdir()) == []


def test_magento_plain_list_of_children_and_a_parent_without_any() -> None:
    rows = [
        "MH01-S,simple,Hoodie-S,52.00,S,,",
        "MH01-M,simple,Hoodie-M,52.00,M,,",
        'MH01,configurable,Hoodie,1.00,,"MH01-S|MH01-M",Warm',
        "MH09,configurable,Lonely,9.00,,MH09-X,Alone",
    ]
    mapping = {**MAGENTO_MAPPING, "variant.option1": "additional_attributes"}
    del mapping["variant.option2"]
    products, outcome = _map(
        MAGENTO_HEADER,
        rows,
        mapping=mapping,
        grouping={"mode": "parent", "children": "configurable_variations"},
    )
    assert not outcome.errors
    assert [(v.sku, v.option_values) for v in products["MH01"].variants] == [
        ("MH01-S", ("S",)),
        ("MH01-M", ("M",)),
    ]
    lonely = products["MH09"]
    assert (lonely.title, [variant.sku for variant in lonely.variants]) == ("Lonely", ["MH09"])


def test_files_are_removed_when_mapping_fails_midway(tmp_path: Path) -> None:
    columns, records = parse_bytes(("\n".join([WOO_HEADER, *WOO_ROWS * 20]) + "\n").encode(), "feed.csv")
    config = make_config(mapping=WOO_MAPPING, grouping={"mode": "parent", "parent": "Parent"})
    stage = Regrouper(config, feed="feed.csv", work_dir=tmp_path, run_bytes=300)
    try:
        list(stage.push(RecordBatch(columns, 2, records)))
        assert list(tmp_path.iterdir()) != []
        next(iter(stage.finish()))
        raise OSError("disk full")
    except OSError:
        pass
    finally:
        stage.close()
    assert list(tmp_path.iterdir()) == []
