"""Feeds in the shapes real shops and standards write them, mapped end to end against expected products.

Each folder of tests/feeds/corpus/ holds one family: its feed files (written after the format's public
documentation: WooCommerce's product CSV exporter, Shopify's product CSV, Google Merchant Center's
product data specification, Magento 2's catalog export, BMEcat 2005 and 1.2, an ERP spreadsheet,
Shopify's products.json), the sync config a merchant would write for it (`config*.json`, the same the
README's "Feed recipes" shows) and one `expected*.json` per feed: the products, variants and a few values
the feed must give, its counts and its row errors. A failure here is what a merchant with that feed
would see go wrong in the shop.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from erpsync.feeds import iter_records
from erpsync.mapping.drafts import MapOutcome, ProductDraft, RowError, VariantDraft
from erpsync.mapping.pipeline import map_feed
from erpsync.models import SyncConfig

CORPUS = Path(__file__).parent / "corpus"
CHUNK = 4096  # small enough that every feed crosses chunk boundaries

# Fields an expected product may give; any left out is not checked.
PRODUCT_FIELDS = ("key", "title", "description", "vendor", "product_type", "status", "handle", "seo_title",
                  "images", "options")  # fmt: skip
VARIANT_FIELDS = ("sku", "price", "compare_at_price", "barcode", "inventory_quantity", "weight", "weight_unit",
                  "option_values", "taxable", "image")  # fmt: skip


def corpus_cases() -> list[Any]:
    return [
        pytest.param(expected, id=f"{expected.parent.name}/{expected.stem}")
        for expected in sorted(CORPUS.glob("*/expected*.json"))
    ]


def load_config(folder: Path, name: str) -> SyncConfig:
    """The recipe's config, as `erpsync configs apply` reads it."""
    return SyncConfig.model_validate(json.loads((folder / name).read_text(encoding="utf-8")))


def map_corpus_feed(expected_path: Path) -> tuple[dict[str, Any], list[ProductDraft], MapOutcome]:
    expected: dict[str, Any] = json.loads(expected_path.read_text(encoding="utf-8"))
    folder = expected_path.parent
    config = load_config(folder, expected.get("config", "config.json"))
    data = (folder / expected["feed"]).read_bytes()
    chunks = [data[start : start + CHUNK] for start in range(0, len(data), CHUNK)]
    batches = iter_records(chunks, name=expected["feed"], format=config.format, options=config.format_options)
    products, outcome = map_feed(config, batches, currency=expected["currency"])
    return expected, products, outcome


def shown_errors(errors: tuple[RowError, ...]) -> str:
    return (
        "; ".join(f"row {error.row} sku={error.sku} {error.field}: {error.message}" for error in errors)
        or "none"
    )


def check_product(where: str, want: dict[str, Any], got: ProductDraft) -> list[str]:
    """Every difference between an expected product and the mapped one, each a line naming the field."""
    problems: list[str] = []
    for name in PRODUCT_FIELDS:
        if name in want:
            value = getattr(got, name)
            value = list(value) if isinstance(value, tuple) else value
            if value != want[name]:
                problems.append(f"{where}.{name}: expected {want[name]!r}, got {value!r}")
    if "tags" in want and sorted(got.tags) != sorted(want["tags"]):
        problems.append(f"{where}.tags: expected {sorted(want['tags'])!r}, got {sorted(got.tags)!r}")
    if "description_contains" in want and want["description_contains"] not in (got.description or ""):
        problems.append(f"{where}.description: {want['description_contains']!r} not in {got.description!r}")
    if "description_length" in want and len(got.description or "") != want["description_length"]:
        problems.append(
            f"{where}.description: {len(got.description or '')} characters, not {want['description_length']}"
        )
    if "variants" in want:
        wanted_skus = [variant["sku"] for variant in want["variants"]]
        got_skus = [variant.sku for variant in got.variants]
        if wanted_skus != got_skus:
            problems.append(f"{where}.variants: expected SKUs {wanted_skus}, got {got_skus}")
        else:
            for want_variant, got_variant in zip(want["variants"], got.variants, strict=True):
                problems += check_variant(f"{where}[{got_variant.sku}]", want_variant, got_variant)
    return problems


def check_variant(where: str, want: dict[str, Any], got: VariantDraft) -> list[str]:
    problems: list[str] = []
    for name in VARIANT_FIELDS:
        if name in want:
            value = getattr(got, name)
            value = list(value) if isinstance(value, tuple) else value
            if value != want[name]:
                problems.append(f"{where}.{name}: expected {want[name]!r}, got {value!r}")
    return problems


@pytest.mark.parametrize("expected_path", corpus_cases())
def test_corpus_feed(expected_path: Path) -> None:
    """The feed gives the products, variants and values its expected file lists, in its counts, with its row
    errors and no others: what a merchant syncing a feed of this shape would find in the shop."""
    expected, products, outcome = map_corpus_feed(expected_path)
    by_key = {product.key: product for product in products}

    errors = expected.get("errors", [])
    got_errors = tuple(sorted(outcome.errors, key=lambda error: error.row))
    assert len(got_errors) == len(errors), (
        f"{len(errors)} row error(s) expected, got {len(got_errors)}: {shown_errors(got_errors)}"
    )
    for want, got in zip(errors, got_errors, strict=True):
        assert got.row == want["row"], f"error row: expected {want['row']}, got {got.row} ({got.message})"
        if "sku" in want:
            assert got.sku == want["sku"], (
                f"error at row {got.row}: expected SKU {want['sku']!r}, got {got.sku!r}"
            )
        if "field" in want:
            assert got.field == want["field"], (
                f"error at row {got.row}: field {got.field!r}, not {want['field']!r}"
            )
        for part in want.get("message_contains", []):
            assert part in got.message, f"error at row {got.row}: {part!r} not in {got.message!r}"

    want_keys = [product["key"] for product in expected["products"]]
    got_keys = [product.key for product in products]
    assert sorted(got_keys) == sorted(want_keys), (
        f"products: expected keys {want_keys}, got {got_keys} (row errors: {shown_errors(outcome.errors)})"
    )
    if expected.get("ordered", False):
        assert got_keys == want_keys, f"products out of feed order: expected {want_keys}, got {got_keys}"
    problems = [
        problem
        for want in expected["products"]
        for problem in check_product(want["key"], want, by_key[want["key"]])
    ]
    assert not problems, "\n".join(problems)

    counts = {
        "products": len(products),
        "variants": sum(len(product.variants) for product in products),
        "rejected_rows": outcome.rejected_rows,
    }
    wanted_counts = {name: value for name, value in expected["counts"].items() if name != "rows"}
    got_counts = {name: counts[name] for name in wanted_counts}
    assert got_counts == wanted_counts, f"counts: expected {wanted_counts}, got {got_counts}"
    if "rows" in expected["counts"]:
        # Records as the feed holds them (a parent row, a product with its variant list: one each), the
        # unit row errors are numbered in.
        assert outcome.rows == expected["counts"]["rows"], (
            f"rows: the feed holds {expected['counts']['rows']} records, the outcome counts {outcome.rows}"
        )


def test_every_family_has_a_recipe() -> None:
    """Each corpus family's config is the one the README's "Feed recipes" shows, so a merchant who copies
    the recipe gets exactly what the corpus tests."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Feed recipes", 1)
    assert len(section) == 2, "README has no '## Feed recipes' section"
    recipes = section[1].split("\n## ", 1)[0]
    shown = [
        json.loads(block.split("\n", 1)[1])
        for block in recipes.split("```json")[1:]
        for block in [block.split("```", 1)[0]]
    ]
    for config_path in sorted(CORPUS.glob("*/config*.json")):
        config = json.loads(config_path.read_text(encoding="utf-8"))
        assert config in shown, f"{config_path.relative_to(CORPUS)} is not shown in the README's Feed recipes"


@pytest.mark.parametrize(
    ("workbook", "rows_name"), [("products.xlsx", "ROWS"), ("bad_price.xlsx", "BAD_ROWS")]
)
def test_corpus_workbooks_hold_the_script_rows(workbook: str, rows_name: str) -> None:
    """The committed workbooks are what make_xlsx.py writes, so a change to its rows that was not run
    through the script is caught here rather than tested against a stale file."""
    from openpyxl import load_workbook

    folder = CORPUS / "xlsx"
    spec = importlib.util.spec_from_file_location("make_xlsx", folder / "make_xlsx.py")
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    book = load_workbook(folder / workbook, read_only=True)
    try:
        assert book.sheetnames == ["Info", "Products"]
        rows = [tuple(row) for row in book["Products"].iter_rows(values_only=True)]
    finally:
        book.close()
    assert rows == [script.HEADER, *getattr(script, rows_name)], f"{workbook}: run make_xlsx.py again"
