"""Every bulk result line checked against the line sent (issue 16, acceptance 4): titles holding U+2028,
U+2029 or U+0085 round-trip through a whole sync (the simulator splits JSONL at `\\n` only, as JSONL is
defined), and a shop that splits elsewhere — the simulator's old `str.splitlines`, kept as the option
`jsonl_split="splitlines"` — answers lines with other lines' products, which erpsync fails loudly and
never records against the wrong product."""

from __future__ import annotations

from typing import Any

import pytest
from shop_support import ConfigFeed, MakeFeed, flat_rows

from erpsync.result_lines import checked, is_mismatch
from erpsync.shopify.bulk import LineOutcome
from erpsync.shopify.bulk_files import sent_of

# In file order, so that which line answers for which is the same on every run.
IN_FILE_ORDER = {"bulk_shuffle_lines": False}
SEPARATORS = {"SKU-1": "Line\u2028two", "SKU-2": "Para\u2029graph", "SKU-3": "Next\u0085line"}


async def tracked(feed: ConfigFeed) -> dict[str, str]:
    rows = await feed.configs.pool.fetch(
        "SELECT product_key, shopify_product_id FROM product_states WHERE config_id = 'acme'"
    )
    return {row["product_key"]: row["shopify_product_id"] for row in rows}


async def skus_by_product(feed: ConfigFeed) -> dict[str, list[str]]:
    return {
        product["id"]: [variant["sku"] for variant in product["variants"]["nodes"]]
        for product in await feed.configs.shop.catalogue()
    }


def titled(count: int, titles: dict[str, str]) -> list[dict[str, Any]]:
    rows = flat_rows(count)
    for row in rows:
        row["title"] = titles.get(row["sku"], row["title"])
    return rows


async def test_titles_with_line_separators_round_trip(make_feed: MakeFeed) -> None:
    """U+2028, U+2029 and U+0085 in titles: every product is created with its title as the feed has it,
    tracked against its own product, and the next run finds nothing to change."""
    feed = await make_feed(options=IN_FILE_ORDER)
    feed.write(titled(5, SEPARATORS))
    result = await feed.sync()
    assert result.status == "succeeded", result
    assert (result.counts["created"], result.counts["failed"], result.counts["failed_mismatch"]) == (5, 0, 0)
    titles = {
        product["variants"]["nodes"][0]["sku"]: product["title"]
        for product in await feed.configs.shop.catalogue()
    }
    assert titles == {**{f"SKU-{n}": f"Product {n}" for n in range(1, 6)}, **SEPARATORS}
    held = await skus_by_product(feed)
    assert {key: held[product_id] for key, product_id in (await tracked(feed)).items()} == {
        f"SKU-{n}": [f"SKU-{n}"] for n in range(1, 6)
    }
    assert (await feed.settled()).counts["unchanged"] == 5


async def test_create_answered_with_another_lines_product_is_failed_not_recorded(make_feed: MakeFeed) -> None:
    """A shop splitting at U+2028 answers line N with line N-1's product: those lines fail with a log
    line naming their SKU, the run counts them as mismatched, and no product key is tracked against a
    product that does not hold its SKU."""
    feed = await make_feed(options={**IN_FILE_ORDER, "jsonl_split": "splitlines"})
    feed.write(titled(4, {"SKU-1": "Line\u2028two"}))
    result = await feed.sync()
    assert result.status == "partial", result
    # Line 0 split in two halves (neither JSON) answers lines 0 and 1; lines 2 and 3 get 1's and 2's product.
    assert (result.counts["failed"], result.counts["failed_mismatch"]) == (4, 2)
    assert result.counts["mismatched_skus"] == ["SKU-3", "SKU-4"]
    errors = {row["sku"]: row["message"] for row in await feed.logs("error")}
    assert set(errors) == {"SKU-1", "SKU-2", "SKU-3", "SKU-4"}
    assert "does not match what was sent" in errors["SKU-3"]
    assert "SKU-2" in errors["SKU-3"]  # the SKU the answer carried
    assert await tracked(feed) == {}


async def test_update_answered_with_another_products_id_is_failed_not_recorded(make_feed: MakeFeed) -> None:
    """Updates by id, answered one line off: the mismatched lines fail and their products stay tracked
    against their own ids, with the old hash, so the next run writes them again."""
    feed = await make_feed(options={**IN_FILE_ORDER, "jsonl_split": "splitlines"})
    feed.write(flat_rows(4))
    first = await feed.sync()
    assert first.status == "succeeded", first
    before = await tracked(feed)
    rows = titled(4, {"SKU-1": "Line\u2028two"})
    for row in rows:
        row["price"] = "11.00"
        row["title"] += " (new)"  # a product field: every update is a productSet line
    feed.write(rows)
    result = await feed.sync()
    assert result.status == "partial", result
    assert result.counts["failed_mismatch"] == 2
    assert result.counts["mismatched_skus"] == ["SKU-3", "SKU-4"]
    errors = {row["sku"]: row["message"] for row in await feed.logs("error")}
    assert before["SKU-2"] in errors["SKU-3"]  # answered for SKU-2's product
    assert await tracked(feed) == before
    held = await skus_by_product(feed)
    assert all(held[product_id] == [key] for key, product_id in before.items())
    assert len(held) == 4
    hashes = await feed.configs.pool.fetch(
        "SELECT product_key FROM product_states WHERE config_id = 'acme' AND last_run_id = $1", result.run_id
    )
    assert "SKU-3" not in {row["product_key"] for row in hashes}


def test_simulator_splits_uploaded_jsonl_at_newline_only() -> None:
    """The simulator itself: a file whose first line holds U+2028 and U+0085 runs as two lines, not four."""
    from shopify_simulator.bulk_lines import split_jsonl
    from shopify_simulator.options import SimulatorOptions

    text = '{"a": "x\u2028y"}\n{"b": "z\u0085w"}\n'
    assert split_jsonl(text, SimulatorOptions()) == ['{"a": "x\u2028y"}', '{"b": "z\u0085w"}']
    assert len(split_jsonl(text, SimulatorOptions(jsonl_split="splitlines"))) == 4


def _ok(product: dict[str, Any]) -> LineOutcome:
    return LineOutcome("K", 0, "ok", {"product": product, "userErrors": []})


def _variants(skus: list[str]) -> dict[str, Any]:
    return {"nodes": [{"id": f"gid://shopify/ProductVariant/{n}", "sku": sku} for n, sku in enumerate(skus)]}


@pytest.mark.parametrize(
    ("sent", "answered", "matches"),
    [
        ({"id": "P1", "skus": ["A"]}, {"id": "P1", "variants": _variants(["A"])}, True),
        ({"id": "P1", "skus": ["A"]}, {"id": "P2", "variants": _variants(["A"])}, False),
        ({"id": None, "skus": ["A", "B"]}, {"id": "P9", "variants": _variants(["C"])}, False),
        ({"id": None, "skus": ["A", "B"]}, {"id": "P9", "variants": _variants(["A", "B", "C"])}, False),
        # 300 variants sent, the answer lists the first 250: the same product.
        (
            {"id": None, "skus": [f"S{n}" for n in range(300)]},
            {"id": "P9", "variants": _variants([f"S{n}" for n in range(250)])},
            True,
        ),
        # A status line (archive) sends no variants: only its id is checked.
        ({"id": "P1", "skus": []}, {"id": "P1", "variants": _variants(["A"])}, True),
        (None, {"id": "P2", "variants": _variants(["Z"])}, True),  # a file from before lines were checked
    ],
    ids=["same", "other-id", "other-skus", "extra-sku", "first-250", "status-line", "unchecked-file"],
)
def test_what_counts_as_another_products_answer(
    sent: dict[str, Any] | None, answered: dict[str, Any], matches: bool
) -> None:
    outcome = checked(_ok(answered), sent)
    assert (outcome.status == "ok") is matches
    assert is_mismatch(outcome) is not matches


@pytest.mark.parametrize(
    ("answered_product", "answered_variants", "matches"),
    [
        ("P1", ["V1", "V2"], True),
        ("P2", ["V1", "V2"], False),
        ("P1", ["V7"], False),
    ],
    ids=["same", "other-product", "other-variants"],
)
def test_what_counts_as_another_products_answer_to_a_variant_update(
    answered_product: str, answered_variants: list[str], matches: bool
) -> None:
    """A productVariantsBulkUpdate line names its product and variants by id; its answer must name them."""
    sent = sent_of(
        {"productId": "P1", "variants": [{"id": "V1", "price": "1.00"}, {"id": "V2", "price": "2.00"}]}
    )
    payload = {
        "product": {"id": answered_product},
        "productVariants": [{"id": variant, "sku": f"S-{variant}"} for variant in answered_variants],
        "userErrors": [],
    }
    outcome = checked(LineOutcome("K", 0, "ok", payload), sent)
    assert (outcome.status == "ok") is matches
