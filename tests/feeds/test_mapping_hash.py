"""Content hashes: stable across processes, blind to tag and metafield order, sensitive to any synced field."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from erpsync.mapping.drafts import MetafieldDraft, ProductDraft, VariantDraft

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
