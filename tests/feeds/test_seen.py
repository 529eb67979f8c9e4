"""The index of SKUs and product keys seen so far: every repeat found, with where it first appeared."""

from __future__ import annotations

import random

import pytest

from erpsync.mapping.seen import SeenIndex


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.usefixtures("speedups")
def test_seen_index_matches_a_dict(seed: int) -> None:
    """Repeats across and within batches (and across table growth) are all reported with their first row,
    so a duplicated SKU is never written and both rows are named."""
    generator = random.Random(seed)  # noqa: S311 - a fixed seed for a reproducible feed
    index, reference = SeenIndex(), {}
    row = 2
    for _ in range(200):
        texts = [f"S{generator.randrange(50_000)}" for _ in range(generator.randint(1, 500))]
        rows = list(range(row, row + len(texts)))
        ordinals = [generator.randrange(10_000) for _ in texts]
        expected = []
        for position, (text, at, ordinal) in enumerate(zip(texts, rows, ordinals, strict=True)):
            if text in reference:
                expected.append((position, *reference[text]))
            else:
                reference[text] = (at, ordinal)
        assert index.add_many(texts, rows, ordinals) == expected
        row += len(texts)
    assert index.add("S-new", 7, 3) is None
    assert index.add("S-new", 9, 4) == (7, 3)
