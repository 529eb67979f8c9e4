"""`erpsync preview` diagnostics that name things: where a bad row is in the file, which product it
rejects, and a mapped path no record had."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from erpsync.preview import preview_command

FEED = b"""{"parent": "P1", "sku": "S1", "name": "Tee", "price": "19.90"}
{"parent": "P1", "sku": "S2", "name": "Tee", "price": "x"}
{"parent": "P2", "sku": "T1", "name": "Mug", "price": "4.00"}
"""


def write_config(tmp_path: Path) -> Path:
    """A JSON Lines feed mapping `vendor` to a key no record has."""
    (tmp_path / "products.jsonl").write_bytes(FEED)
    config = {
        "id": "preview-diag",
        "name": "Preview",
        "connection_type": "file",
        "credentials": {"filePath": str(tmp_path / "products.jsonl")},
        "format": "jsonl",
        "mapping": {"title": "name", "variant.sku": "sku", "variant.price": "price", "vendor": "brand"},
        "product_key": "parent",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_preview_names_the_file_row_product_and_missing_path(tmp_path: Path) -> None:
    """The text preview names each bad row by file, row and SKU, and warns of the path no record had."""
    result = CliRunner().invoke(preview_command, [str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [error] = [line for line in lines if "variant.price" in line]
    assert error.strip().startswith("products.jsonl ")
    assert "row 2" in error
    assert "SKU 'S2', variant.price:" in error
    assert "  the mapped path 'brand' (mapped to vendor) is in no record of the feed" in lines
    assert lines.index("Warnings:") > lines.index("Row errors:")


def test_preview_json_lists_rejected_products_and_warnings(tmp_path: Path) -> None:
    """--json names the rejected product by key and SKUs with its first error, and lists the warnings."""
    result = CliRunner().invoke(preview_command, [str(write_config(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.output)
    assert [product["key"] for product in document["products"]] == ["P2"]
    [rejected] = document["rejected_products"]
    assert rejected["key"] == "P1"
    assert rejected["skus"] == ["S2"]
    assert rejected["error"] == document["errors"][0]["text"]
    assert document["rejected_products_more"] == 0
    assert document["warnings"] == ["the mapped path 'brand' (mapped to vendor) is in no record of the feed"]
