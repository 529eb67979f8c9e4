"""Content hashes: stable across processes, blind to tag and metafield order, sensitive to any synced field."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from xxhash import xxh3_128_hexdigest

from erpsync.mapping.drafts import (
    HASH_VERSION,
    MetafieldDraft,
    ProductDraft,
    VariantDraft,
    product_drafts,
    product_encoding,
    product_encodings,
)

TEXT = st.text(max_size=12)


def _variant(sku: str, price: str = "1.00") -> VariantDraft:
    return VariantDraft(sku, price, None, None, 3, None, None, ("S",), None, None, (), row=2)


def _product(
    tags: tuple[str, ...], metafields: tuple[MetafieldDraft, ...], title: str = "Tee"
) -> ProductDraft:
    return ProductDraft(
        key="P1", title=title, description=None, vendor="Acme", product_type=None, status="ACTIVE", handle=None,
        seo_title=None, seo_description=None, tags=tags, images=(), options=("Size",),
        variants=(_variant("A"), _variant("B")), metafields=metafields,
    )  # fmt: skip


METAFIELDS = st.lists(
    st.builds(MetafieldDraft, TEXT, TEXT, st.just("single_line_text_field"), TEXT),
    max_size=5,
    unique_by=lambda item: (item.namespace, item.key),
)


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(TEXT, max_size=8), metafields=METAFIELDS, data=st.data())
def test_mapping_hash_ignores_tag_and_metafield_order(
    tags: list[str], metafields: list[MetafieldDraft], data: st.DataObject
) -> None:
    """Reordering tags or metafields in the ERP does not make every product look changed."""
    shuffled_tags = data.draw(st.permutations(tags))
    shuffled_metafields = data.draw(st.permutations(metafields))
    first = _product(tuple(tags), tuple(metafields))
    second = _product(tuple(shuffled_tags), tuple(shuffled_metafields))
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 32


@settings(max_examples=100, deadline=None)
@given(title=TEXT, other=TEXT)
def test_mapping_hash_changes_with_any_field(title: str, other: str) -> None:
    """Any change to a synced field gives a different hash, so the change is written."""
    base = _product(("a",), (), title=title)
    assert (base.content_hash == _product(("a",), (), title=other).content_hash) == (title == other)
    repriced = dataclasses.replace(base, variants=(_variant("A", "1.01"), _variant("B")))
    assert repriced.content_hash != base.content_hash
    reordered = dataclasses.replace(base, variants=tuple(reversed(base.variants)))
    assert reordered.content_hash != base.content_hash
    moved = dataclasses.replace(base, variants=(base.variants[0]._replace(row=99), base.variants[1]))
    assert moved.content_hash == base.content_hash


def test_mapping_hash_stable_across_processes() -> None:
    """The hash of a product is the same in another process (string hashing is randomized per process)."""
    code = (
        "import sys; sys.path.insert(0, 'tests/feeds');"
        "from test_mapping_hash import _product;"
        "from erpsync.mapping.drafts import MetafieldDraft;"
        "print(_product(('b', 'a'), (MetafieldDraft('c', 'k', 'json', '1'),)).content_hash)"
    )
    here = _product(("a", "b"), (MetafieldDraft("c", "k", "json", "1"),)).content_hash
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {here}


def _pinned_variant(sku: str, *fields: Any, metafields: tuple[MetafieldDraft, ...] = ()) -> VariantDraft:
    """A variant from its fields after the SKU (price to image), defaults for the rest."""
    given = [*fields, *[None] * (9 - len(fields))]
    return VariantDraft(sku, *given[:6], given[6] or ("S",), *given[7:9], metafields, row=2)


# Hashes the releases before this one stored: the same products must keep them, or every catalogue
# would be rewritten once on upgrade. Text with quotes, backslashes, control and astral characters,
# 64-bit quantities, both booleans, and metafields in feed order on the product and on a variant.
PINNED = [
    (
        ProductDraft(
            "P1", "Tee", None, "Acme", None, "ACTIVE", None, None, None, ("b", "a", "b"), (), ("Size",),
            (_pinned_variant("A", "19.90", None, None, 3), _pinned_variant("B", "19.90")), (),
        ),
        "1628079eb0a7a4f9f98999e018d3ed97",
    ),
    (
        ProductDraft(
            "P2", 'Größe "10" \\ é€𝄞\n\t\x01', "<p>desc</p>", None, "Shirts", None, "p-2", "SEO", "seo d",
            ("sale",), ("https://x/1.jpg", "https://x/2.jpg"), ("Size", "Color"),
            (
                _pinned_variant("C", "19.90", "25.00", "4006381333931", -5, "0.250", "KILOGRAMS", ("M", "Red"),
                                True, "https://x/1.jpg"),
                _pinned_variant("D", "19.90", None, None, 2**62, None, None, ("L", "Red"), False),
            ),
            (MetafieldDraft("custom", "material", "single_line_text_field", "linen"),),
        ),
        "c8387c458917f1a8ddfd70a86555d44f",
    ),
    (
        ProductDraft(
            "P3", "Mug", None, None, None, None, None, None, None, (), (), (),
            (_pinned_variant("E", "19.90", None, None, 3, metafields=(
                MetafieldDraft("z", "k", "json", "{}"), MetafieldDraft("a", "k", "number_integer", "1"))),),
            (MetafieldDraft("x", "b", "single_line_text_field", "2"),
             MetafieldDraft("x", "a", "single_line_text_field", "1")),
        ),
        "6e0cc7c66118b51707ad81ff138d3fd0",
    ),
]  # fmt: skip


def test_mapping_hash_keeps_the_stored_hashes() -> None:
    """An upgrade leaves every stored hash valid: unchanged products are not written again."""
    assert HASH_VERSION == 1
    assert [product.content_hash for product in (item for item, _ in PINNED)] == [
        value for _, value in PINNED
    ]
    columns = [[getattr(product, name) for product, _ in PINNED] for name in PRODUCT_FIELDS]
    assert [draft.content_hash for draft in product_drafts(columns)] == [value for _, value in PINNED]


# Any text a feed can carry: control characters, quotes, backslashes, accents and astral symbols.
ANY_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
OPTIONAL_TEXT = st.none() | ANY_TEXT
METAFIELD = st.builds(MetafieldDraft, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT)
VARIANT = st.builds(
    VariantDraft,
    ANY_TEXT, OPTIONAL_TEXT, OPTIONAL_TEXT, OPTIONAL_TEXT,
    st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    OPTIONAL_TEXT, OPTIONAL_TEXT, st.lists(ANY_TEXT, max_size=3).map(tuple), st.none() | st.booleans(),
    OPTIONAL_TEXT, st.lists(METAFIELD, max_size=3).map(tuple), st.integers(min_value=1, max_value=10**6),
)  # fmt: skip
PRODUCT = st.builds(
    ProductDraft,
    ANY_TEXT, ANY_TEXT, *[OPTIONAL_TEXT] * 7, st.lists(ANY_TEXT, max_size=5).map(tuple),
    st.lists(ANY_TEXT, max_size=3).map(tuple), st.lists(ANY_TEXT, max_size=3).map(tuple),
    st.lists(VARIANT, min_size=1, max_size=4).map(tuple), st.lists(METAFIELD, max_size=3).map(tuple),
)  # fmt: skip
PRODUCT_FIELDS = [field.name for field in dataclasses.fields(ProductDraft) if field.init]


def _plain(metafields: tuple[MetafieldDraft, ...]) -> list[list[str]]:
    return sorted(map(list, metafields))


@settings(max_examples=150, deadline=None)
@given(products=st.lists(PRODUCT, max_size=4))
def test_mapping_hash_is_taken_of_the_documented_encoding(products: list[ProductDraft]) -> None:
    """The hashed bytes are orjson's of the product's synced fields, `row` left out, tags and metafields
    sorted, one product at a time or a batch's columns at once: nothing else decides them."""
    expected = [
        orjson.dumps([
            HASH_VERSION, *(getattr(product, name) for name in PRODUCT_FIELDS[:9]), sorted(set(product.tags)),
            product.images, product.options,
            [[*variant[:-2], _plain(variant.metafields)] for variant in product.variants],
            _plain(product.metafields),
        ])
        for product in products
    ]  # fmt: skip
    assert [product_encoding(product) for product in products] == expected
    columns = [[getattr(product, name) for product in products] for name in PRODUCT_FIELDS]
    assert list(product_encodings(columns)) == expected
    assert [draft.content_hash for draft in product_drafts(columns)] == list(
        map(xxh3_128_hexdigest, expected)
    )
