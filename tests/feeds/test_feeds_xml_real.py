"""XML feeds as real systems write them: BMEcat with its DOCTYPE, Google Merchant Center RSS 2.0 with
the g: namespace; the records they give and the mapping paths that read them."""

from __future__ import annotations

from typing import Any

import pytest
from feed_support import parse_bytes

from erpsync.feeds import FeedLayoutError, UnsafeFeedError, iter_records
from erpsync.mapping.extract import path_getter
from erpsync.models import FormatOptions

# After the BMEcat 2005 structure (T_NEW_CATALOG/PRODUCT, PRODUCT_DETAILS, MIME_INFO), default namespace
# and the DOCTYPE line exporters still write.
BMECAT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE BMECAT SYSTEM "bmecat_2005.dtd">
<BMECAT version="2005" xmlns="http://www.bmecat.org/bmecat/2005">
  <HEADER>
    <CATALOG><LANGUAGE>deu</LANGUAGE><CATALOG_ID>C-1</CATALOG_ID><CATALOG_VERSION>1.0</CATALOG_VERSION></CATALOG>
  </HEADER>
  <T_NEW_CATALOG>
    <PRODUCT mode="new">
      <SUPPLIER_PID>RB-10041</SUPPLIER_PID>
      <PRODUCT_DETAILS>
        <DESCRIPTION_SHORT lang="deu">Ordner A4 breit</DESCRIPTION_SHORT>
        <DESCRIPTION_SHORT lang="eng">Lever arch file A4 wide</DESCRIPTION_SHORT>
        <KEYWORD>Ordner</KEYWORD>
        <KEYWORD>Büro</KEYWORD>
      </PRODUCT_DETAILS>
      <MIME_INFO>
        <MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>rb-10041.jpg</MIME_SOURCE></MIME>
        <MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>rb-10041-back.jpg</MIME_SOURCE></MIME>
      </MIME_INFO>
    </PRODUCT>
    <PRODUCT mode="new">
      <SUPPLIER_PID>RB-20310</SUPPLIER_PID>
      <PRODUCT_DETAILS>
        <DESCRIPTION_SHORT lang="eng">Stapler</DESCRIPTION_SHORT>
        <KEYWORD>Heftgerät</KEYWORD>
      </PRODUCT_DETAILS>
      <MIME_INFO>
        <MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>rb-20310.jpg</MIME_SOURCE></MIME>
      </MIME_INFO>
    </PRODUCT>
  </T_NEW_CATALOG>
</BMECAT>
""".encode()

# After the RSS 2.0 example of the Google Merchant Center product data specification.
GOOGLE = b"""<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">
<channel>
<title>Example - Online Store</title>
<link>https://www.example.com</link>
<description>This is a sample feed containing the required and recommended attributes</description>
<item>
<g:id>TV_123456</g:id>
<g:title>LG 22LB4510 - 22" LED TV - 1080p (FullHD)</g:title>
<g:link>https://www.example.com/electronics/tv/22LB4510.html</g:link>
<g:image_link>https://images.example.com/TV_123456.png</g:image_link>
<g:price>159.00 USD</g:price>
<g:item_group_id>TV_22LB</g:item_group_id>
<g:shipping>
<g:country>US</g:country>
<g:price>14.95 USD</g:price>
</g:shipping>
</item>
<item>
<g:id>TV_123457</g:id>
<g:title>LG 22LB4510 - 24" LED TV</g:title>
<g:price>179.00 USD</g:price>
<g:item_group_id>TV_22LB</g:item_group_id>
</item>
</channel>
</rss>
"""


def records_of(data: bytes, records_path: str) -> list[Any]:
    return parse_bytes(data, "catalog.xml", chunk=97, records_path=records_path)[1]


def test_bmecat_with_a_doctype_is_read_and_its_dtd_never_fetched() -> None:
    """The DOCTYPE names a DTD that does not exist here: it is accepted and never looked for."""
    products = records_of(BMECAT, "T_NEW_CATALOG.PRODUCT")
    assert [product["SUPPLIER_PID"] for product in products] == ["RB-10041", "RB-20310"]
    assert products[0]["@mode"] == "new"
    assert "@xmlns" not in products[0]


@pytest.mark.parametrize(
    ("path", "first", "second"),
    [
        ("PRODUCT_DETAILS.DESCRIPTION_SHORT[@lang=eng]", "Lever arch file A4 wide", "Stapler"),
        ('PRODUCT_DETAILS.DESCRIPTION_SHORT[@lang="deu"]', "Ordner A4 breit", None),
        ("PRODUCT_DETAILS.KEYWORD", ["Ordner", "Büro"], "Heftgerät"),
        ("MIME_INFO.MIME.MIME_SOURCE", ["rb-10041.jpg", "rb-10041-back.jpg"], "rb-20310.jpg"),
        ("MIME_INFO.MIME.0.MIME_SOURCE", "rb-10041.jpg", "rb-20310.jpg"),
        ("MIME_INFO.MIME[@nothing=x]", None, None),
    ],
)
def test_bmecat_paths_pick_by_attribute_and_reach_repeated_elements(
    path: str, first: Any, second: Any
) -> None:
    """One path reads a product with two languages or images and one with a single one alike."""
    products = records_of(BMECAT, "T_NEW_CATALOG.PRODUCT")
    get = path_getter(path)
    assert [get(products[0]), get(products[1])] == [first, second]


def test_google_merchant_rss_fields_are_named_with_their_prefix() -> None:
    items = records_of(GOOGLE, "channel.item")
    assert [item["g:id"] for item in items] == ["TV_123456", "TV_123457"]
    assert items[0]["g:price"] == "159.00 USD"
    assert items[0]["g:title"] == 'LG 22LB4510 - 22" LED TV - 1080p (FullHD)'
    assert [item["g:item_group_id"] for item in items] == ["TV_22LB", "TV_22LB"]
    assert path_getter("g:shipping.g:price")(items[0]) == "14.95 USD"


def test_xml_records_carry_the_line_they_start_on() -> None:
    batches = list(
        iter_records([GOOGLE], name="g.xml", format=None, options=FormatOptions(records_path="channel.item"))
    )
    assert [line for batch in batches for line in batch.lines or []] == [7, 19]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items.item", "records_path 'items.item' matches nothing; the root <rss> holds: channel"),
        (
            "channel.product",
            "records_path 'channel.product' matches nothing; <channel> holds: title, link, description, item",
        ),
    ],
)
def test_a_records_path_that_matches_nothing_names_what_is_there(path: str, message: str) -> None:
    with pytest.raises(FeedLayoutError) as caught:
        records_of(GOOGLE, path)
    assert caught.value.reason == message


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE r [<!ENTITY e "x">]><r><i>&e;</i></r>',
        b"<!DOCTYPE r [<!ELEMENT r ANY>]><r><i>a</i></r>",
        b'<!DOCTYPE r SYSTEM "r.dtd"><r><i>&copy;</i></r>',
    ],
    ids=["entity", "internal subset", "entity only the dtd defines"],
)
def test_internal_subsets_and_entities_stay_refused(data: bytes) -> None:
    with pytest.raises(UnsafeFeedError):
        records_of(data, "i")


def test_a_text_over_max_cell_size_rejects_its_record_only() -> None:
    data = b"<r><i><sku>A</sku><d>" + b"x" * 2000 + b"</d></i><i><sku>B</sku><d>ok</d></i></r>"
    records = parse_bytes(data, "f.xml", max_cell_size=1024)[1]
    assert (
        repr(records[0]["d"]) == "CellProblem('is 2000 characters, over format_options.max_cell_size (1024)')"
    )
    assert records[1] == {"sku": "B", "d": "ok"}
