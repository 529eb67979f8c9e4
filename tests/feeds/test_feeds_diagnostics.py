"""A layout that matches nothing is fatal and says what the file has instead: no silent `0 rows`."""

from __future__ import annotations

import pytest
from feed_support import parse_bytes

from erpsync.feeds import FeedLayoutError

CATALOG_JSON = b'{"meta": {"count": 2}, "data": {"catalog": {"products": [{"sku": "A"}], "updated": "2026"}}}'
CATALOG_XML = (
    b"<catalog><meta><count>2</count></meta><products><product><sku>A</sku></product></products></catalog>"
)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items", "records_path 'items' matches nothing; the top-level object holds: meta, data"),
        ("data.items", "records_path 'data.items' matches nothing; 'data' holds: catalog"),
        (
            "data.catalog.items",
            "records_path 'data.catalog.items' matches nothing; 'data.catalog' holds: products, updated",
        ),
    ],
)
def test_a_json_records_path_that_matches_nothing(path: str, message: str) -> None:
    with pytest.raises(FeedLayoutError) as caught:
        parse_bytes(CATALOG_JSON, "feed.json", chunk=7, records_path=path)
    assert str(caught.value) == f"feed.json: {message}"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items.item", "records_path 'items.item' matches nothing; the root <catalog> holds: meta, products"),
        ("products.item", "records_path 'products.item' matches nothing; <products> holds: product"),
    ],
)
def test_an_xml_records_path_that_matches_nothing(path: str, message: str) -> None:
    with pytest.raises(FeedLayoutError) as caught:
        parse_bytes(CATALOG_XML, "feed.xml", chunk=7, records_path=path)
    assert str(caught.value) == f"feed.xml: {message}"


def test_a_matching_path_reads_its_records() -> None:
    assert parse_bytes(CATALOG_JSON, "feed.json", records_path="data.catalog.products")[1] == [{"sku": "A"}]
    assert parse_bytes(CATALOG_XML, "feed.xml", records_path="products.product")[1] == [{"sku": "A"}]
