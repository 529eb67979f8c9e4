"""`erpsync preview`: what a merchant sees before the first sync — products, row errors, counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from erpsync.models import SyncConfig
from erpsync.preview import make_preview_command, preview_command
from erpsync.sources.policy import SourcePolicy

FEED = b"""parent;sku;name;price;size;stock
P1;S1;Tee;19,90;S;3
P1;S2;Tee;19,90;M;4
P2;T1;Mug;-1;;2
P3;U1;Cap;5;;1
"""


def write_config(tmp_path: Path, feed_name: str, feed: bytes, **overrides: Any) -> Path:
    """A config file with a `file` source pointing at a feed written beside it."""
    (tmp_path / feed_name).write_bytes(feed)
    config = {
        "id": "preview-test",
        "name": "Preview",
        "connection_type": "file",
        "credentials": {"filePath": str(tmp_path / feed_name)},
        "format_options": {"delimiter": ";", "decimal_comma": True},
        "mapping": {"title": "name", "variant.sku": "sku", "variant.price": "price", "variant.option1": "size",
                    "variant.inventory_quantity": "stock"},
        "product_key": "parent",
        "options": ["Size"],
    }  # fmt: skip
    config.update(overrides)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def test_preview_json(tmp_path: Path) -> None:
    """--json prints one document with counts, products as they will be sent and the row errors."""
    config = write_config(tmp_path, "feed.csv", FEED)
    result = CliRunner().invoke(preview_command, [str(config), "--json", "--limit", "1"])
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.output)
    assert document["counts"] == {"rows": 4, "products": 2, "variants": 3, "rejected_rows": 1}
    assert [product["key"] for product in document["products"]] == ["P1"]
    assert [variant["price"] for variant in document["products"][0]["variants"]] == ["19.90", "19.90"]
    [error] = document["errors"]
    assert {key: error[key] for key in ("row", "sku", "product_key", "field", "message")} == {
        "row": 4, "sku": "T1", "product_key": "P2", "field": "variant.price", "message": "-1 is negative"
    }  # fmt: skip
    assert error["text"].startswith("feed.csv ")
    assert error["text"].endswith("row 4, SKU 'T1', variant.price: -1 is negative") or error["text"].endswith(
        "row 4), SKU 'T1', variant.price: -1 is negative"
    )
    assert document["rejected_products"] == [{"key": "P2", "skus": ["T1"], "error": error["text"]}]


def test_preview_text(tmp_path: Path) -> None:
    """The text preview lists products with variants, then the row errors, then the counts."""
    config = write_config(tmp_path, "feed.csv", FEED)
    result = CliRunner().invoke(preview_command, [str(config)])
    assert result.exit_code == 0, result.output
    assert "Tee  [P1]" in result.output
    assert "    S2  19.90  M  stock 4" in result.output
    assert "SKU 'T1', variant.price: -1 is negative" in result.output
    assert result.output.strip().endswith("4 rows, 2 products, 3 variants, 1 rejected rows")


@pytest.mark.parametrize(
    ("feed_name", "feed", "overrides", "fragment"),
    [("feed.json", b"<html>oops</html>", {}, "feed.json: not JSON"),
     ("missing.csv", None, {}, "missing.csv: no such file"),
     ("feed.csv", b"a,b\n1,2\n", {"format_options": {}}, "not in the header")],
)  # fmt: skip
def test_preview_fatal_error_is_one_line(
    tmp_path: Path, feed_name: str, feed: bytes | None, overrides: dict[str, Any], fragment: str
) -> None:
    """A fatal feed error exits non-zero with one stderr line naming the file — never a traceback."""
    config = write_config(tmp_path, "present.csv", b"", **overrides)
    data = json.loads(config.read_text())
    data["credentials"]["filePath"] = str(tmp_path / feed_name)
    config.write_text(json.dumps(data))
    if feed is not None:
        (tmp_path / feed_name).write_bytes(feed)
    result = CliRunner().invoke(preview_command, [str(config)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert fragment in lines[0]
    assert str(tmp_path) in lines[0]


def test_preview_invalid_config(tmp_path: Path) -> None:
    """A config file with a mistake is named with the field at fault."""
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"id": "x", "name": "x", "connection_type": "file", "credentials": {}, "mapping": {}})
    )
    result = CliRunner().invoke(preview_command, [str(path)])
    assert result.exit_code == 65  # EX_DATAERR
    assert "invalid config" in result.output


def test_preview_config_id_through_loader(tmp_path: Path) -> None:
    """A config id is resolved by the loader the CLI supplies (the database in production), with the
    source policy a sync of it would run under."""
    config_path = write_config(tmp_path, "feed.csv", FEED)
    config = SyncConfig.model_validate_json(config_path.read_bytes())

    async def load(config_id: str) -> tuple[SyncConfig, SourcePolicy]:
        assert config_id == "preview-test"
        return config, SourcePolicy(tmp_path, allow_private=False)

    result = CliRunner().invoke(make_preview_command(load), ["preview-test", "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["counts"]["products"] == 2
    unknown = CliRunner().invoke(preview_command, ["preview-test"])
    assert unknown.exit_code == 66  # not found
    assert "need the database" in unknown.output
