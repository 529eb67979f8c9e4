"""Drafts built a column at a time, indexes sized up front and the row estimate behind that sizing."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from feed_support import make_config

from erpsync.feeds import iter_records, read_records
from erpsync.mapping.drafts import MetafieldDraft, ProductDraft, VariantDraft, product_drafts
from erpsync.mapping.seen import SeenIndex

MATERIAL = MetafieldDraft("custom", "material", "single_line_text_field", "cotton")
GRADE = MetafieldDraft("custom", "grade", "number_integer", "7")


def _variant(index: int, number: int, size: str, *, metafields: bool) -> VariantDraft:
    grades = (GRADE,) if metafields and number else ()
    return VariantDraft(
        f"P{index}-{number}", "19.90", None, f"400{number}", number, "0.2", None, (size, "Red"), None, None, grades,
        2 + number,
    )  # fmt: skip


def _fields(
    index: int, *, product_metafields: tuple[MetafieldDraft, ...], variant_metafields: bool
) -> list[Any]:
    sizes = ["S", "M", "L"][: 1 + index % 3]
    variants = tuple(
        _variant(index, number, size, metafields=variant_metafields) for number, size in enumerate(sizes)
    )
    return [
        f"P{index}", f"Tee {index}", None, "Acme", None, "ACTIVE", None, None, None, ("b", "a", "b")[: index % 4],
        ("https://example.com/1.jpg",), ("Size", "Color"), variants, product_metafields,
    ]  # fmt: skip


@pytest.mark.usefixtures("speedups")
@pytest.mark.parametrize(
    ("product_metafields", "variant_metafields"),
    [((), False), ((MATERIAL,), False), ((GRADE, MATERIAL), False), ((MATERIAL,), True)],
    ids=["none", "one", "two-unsorted", "variant"],
)
def test_product_drafts_equal_one_by_one(
    product_metafields: tuple[MetafieldDraft, ...], variant_metafields: bool
) -> None:
    """The batch path's drafts are the drafts, hashes included, whichever way their hash is computed."""
    rows = [
        _fields(index, product_metafields=product_metafields, variant_metafields=variant_metafields)
        for index in range(7)
    ]
    built = product_drafts([list(column) for column in zip(*rows, strict=True)])
    expected = [ProductDraft(*row) for row in rows]
    assert built == expected
    assert [product.content_hash for product in built] == [product.content_hash for product in expected]


def test_seen_index_keeps_entries_when_reserved_late() -> None:
    """Sizing the index after entries are in keeps them all, with where they were first seen."""
    index = SeenIndex()
    texts = [f"S{number}" for number in range(5000)]
    assert index.add_many(texts, range(2, 5002), [number // 3 for number in range(5000)]) == []
    index.reserve(400_000)
    assert index.add_many(["S4999", "new", "S0"], [9000, 9001, 9002], [1, 2, 3]) == [
        (0, 5001, 4999 // 3),
        (2, 2, 0),
    ]


def test_seen_index_reservation_is_capped() -> None:
    """A wildly wrong size hint cannot make the index take gigabytes."""
    index = SeenIndex(10**12)
    assert len(index._table) <= 2 * (1 << 22)


class _Sized(list[bytes]):
    """Chunks from a source that announced its size, as FeedStream does."""

    expected_size: int


def test_first_batch_estimates_the_feed_rows() -> None:
    """The first batch of a feed of known size carries a row estimate close to the real count."""
    generator = random.Random(5)  # noqa: S311 - a fixed seed for a reproducible feed
    lines = ["sku,title,price"] + [
        f"S{number},{'Tee ' * generator.randint(1, 4)},{number}.00" for number in range(20_000)
    ]
    data = ("\n".join(lines) + "\n").encode()
    chunks = _Sized(data[offset : offset + 65536] for offset in range(0, len(data), 65536))
    chunks.expected_size = len(data)
    options = make_config().format_options

    async def first() -> int | None:
        async for batch in read_records(chunks, name="feed.csv", format="csv", options=options):
            return batch.feed_rows
        return None

    estimate = asyncio.run(first())
    assert estimate is not None
    assert 17_000 < estimate < 23_000
    plain = next(iter_records(list(chunks), name="feed.csv", format="csv", options=options))
    assert plain.feed_rows is None
