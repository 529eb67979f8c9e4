"""Write the committed, description-free SDL of Shopify's Admin GraphQL schema.

The simulator validates every incoming document against Shopify's real schema, not an imitation of it.
The published introspection result (``../shared/shopify/admin_2026-10.introspection.json.gz``) is too big
to commit and carries prose we do not need, so this script strips every description and prints the
whole schema as SDL into ``shopify-simulator/shopify_simulator/schema.graphql`` (about 0.8 MB). Deprecation reasons and
directives (``@oneOf``, ``@idempotent``) are kept: they are part of the contract, not prose.

Run it from the repository root whenever the pinned API version changes::

    .venv/bin/python scripts/trim_schema.py \\
        ../shared/shopify/admin_2026-10.introspection.json.gz shopify-simulator/shopify_simulator/schema.graphql

Both arguments are optional and default to the paths above. The output is deterministic, so a re-run on
the same input leaves ``git diff`` empty.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

from graphql import build_client_schema, build_schema, print_schema

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPOSITORY_ROOT.parent / "shared" / "shopify" / "admin_2026-10.introspection.json.gz"
DEFAULT_TARGET = REPOSITORY_ROOT / "shopify-simulator" / "shopify_simulator" / "schema.graphql"
API_VERSION_HEADER = "# Shopify Admin GraphQL API {version}, descriptions removed by scripts/trim_schema.py\n"


def strip_descriptions(node: Any) -> Any:
    """Return a copy of an introspection result with every ``description`` set to null."""
    if isinstance(node, dict):
        return {
            key: None if key == "description" else strip_descriptions(value) for key, value in node.items()
        }
    if isinstance(node, list):
        return [strip_descriptions(item) for item in node]
    return node


def load_introspection(source: Path) -> dict[str, Any]:
    """Read an introspection result (``{"data": {"__schema": ...}}`` or bare) from a .json or .json.gz."""
    raw = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else source.read_bytes()
    document: dict[str, Any] = json.loads(raw)
    data: dict[str, Any] = document.get("data", document)
    return data


def render_sdl(introspection: dict[str, Any], *, version: str) -> str:
    """Render the description-free SDL and prove it rebuilds into a schema."""
    schema = build_client_schema(strip_descriptions(introspection))  # type: ignore[arg-type]
    sdl = API_VERSION_HEADER.format(version=version) + print_schema(schema) + "\n"
    build_schema(
        sdl, assume_valid=True
    )  # the simulator loads it with build_schema: fail here, not at serve time
    return sdl


def main() -> None:
    """Parse arguments, trim, write, and report the size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("target", nargs="?", type=Path, default=DEFAULT_TARGET)
    arguments = parser.parse_args()
    source: Path = arguments.source
    target: Path = arguments.target
    version = source.name.split("_")[1].split(".")[0] if "_" in source.name else "unknown"
    sdl = render_sdl(load_introspection(source), version=version)
    target.write_text(sdl, encoding="utf-8")
    print(f"wrote {target} ({len(sdl.encode()) // 1024} KB)")


if __name__ == "__main__":
    main()
