"""`erpsync preview CONFIG.json|ID`: fetch and map a feed, print what would be sent — touch nothing.

Neither Shopify nor the database is contacted (a config id is looked up only through the loader the
CLI passes in). A fatal feed error exits non-zero with one line on stderr naming the file and the
reason, never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click
import orjson
from pydantic import ValidationError

from erpsync.cli_errors import EX_DATAERR, EX_NOT_FOUND, exit_status, fail
from erpsync.errors import ErpsyncError
from erpsync.feeds import read_records
from erpsync.mapping.drafts import MapOutcome, ProductDraft
from erpsync.mapping.pipeline import FeedPipeline
from erpsync.models import SyncConfig
from erpsync.outcome import describe_error, missing_path_warnings, rejected_products
from erpsync.sources import FeedInfo, open_feed
from erpsync.sources.policy import SourcePolicy

# A stored config comes with the source policy `erpsync sync` would hold it to.
ConfigLoader = Callable[[str], Coroutine[Any, Any, tuple[SyncConfig, SourcePolicy]]]
DEFAULT_LIMIT = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """The first products of a mapped feed, with the whole feed's counts and errors."""

    feed: FeedInfo | None
    products: tuple[ProductDraft, ...]
    outcome: MapOutcome


async def preview_feed(
    config: SyncConfig, *, limit: int = DEFAULT_LIMIT, policy: SourcePolicy | None = None
) -> Preview:
    """Fetch, parse and map the whole feed; keep only the first `limit` products."""
    kept: list[ProductDraft] = []
    async with open_feed(config, policy=policy) as stream:
        # No shop: prices are not checked for its currency.
        with FeedPipeline(config, feed=stream.name) as pipeline:
            batches = read_records(
                stream, name=stream.name, format=config.format, options=config.format_options
            )
            async for batch in batches:
                kept.extend(pipeline.push(batch)[: limit - len(kept)])
            for ready in pipeline.drain():
                kept.extend(ready[: limit - len(kept)])
            outcome = pipeline.outcome()
        info = stream.info()
    products = tuple(product for product in kept if product.key not in outcome.rejected_keys)
    return Preview(feed=info, products=products, outcome=outcome)


def feed_name(preview: Preview) -> str:
    return preview.feed.name if preview.feed is not None else "feed"


def preview_document(preview: Preview, config: SyncConfig) -> dict[str, Any]:
    """The `--json` document: counts, products as they will be sent, row errors, rejected products, warnings."""
    outcome = preview.outcome
    feed = feed_name(preview)
    named, more = rejected_products(outcome, feed)
    return {
        "counts": {
            "rows": outcome.rows,
            "products": outcome.products,
            "variants": outcome.variants,
            "rejected_rows": outcome.rejected_rows,
        },
        "products": [product_document(product) for product in preview.products],
        "errors": [
            {
                "row": error.row,
                "line": error.line,
                "sku": error.sku,
                "product_key": error.key,
                "field": error.field,
                "message": error.message,
                "text": describe_error(error, feed),
            }
            for error in outcome.errors
        ],
        "rejected_products": named,
        "rejected_products_more": more,
        "warnings": missing_path_warnings(outcome, config),
    }


def product_document(product: ProductDraft) -> dict[str, Any]:
    """A product as JSON: its fields, its variants and metafields as objects."""
    document = {field.name: getattr(product, field.name) for field in dataclasses.fields(product)}
    document["metafields"] = [item._asdict() for item in product.metafields]
    document["variants"] = [
        {**variant._asdict(), "metafields": [item._asdict() for item in variant.metafields]}
        for variant in product.variants
    ]
    return document


def render_text(preview: Preview, config: SyncConfig) -> str:
    """The human-readable preview: products, then row errors where they are in the file, then warnings."""
    lines: list[str] = []
    for product in preview.products:
        lines.append(
            f"{product.title}  [{product.key}]  {product.status or ''}  hash {product.content_hash[:12]}"
        )
        details = [
            f"{label}: {value}"
            for label, value in (("vendor", product.vendor), ("type", product.product_type),
                                 ("tags", ", ".join(product.tags)))
            if value
        ]  # fmt: skip
        if details:
            lines.append("    " + "; ".join(details))
        for variant in product.variants:
            options = " / ".join(variant.option_values) or "-"
            stock = "" if variant.inventory_quantity is None else f"  stock {variant.inventory_quantity}"
            lines.append(f"    {variant.sku}  {variant.price or '-'}  {options}{stock}")
    outcome = preview.outcome
    if outcome.errors:
        lines.append("")
        lines.append("Row errors:")
        lines.extend(f"  {describe_error(error, feed_name(preview))}" for error in outcome.errors)
        if outcome.errors_not_kept:
            lines.append(f"  ... and {outcome.errors_not_kept} more")
    if warnings := missing_path_warnings(outcome, config):
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"  {warning}" for warning in warnings)
    lines.append("")
    lines.append(
        f"{outcome.rows} rows, {outcome.products} products, {outcome.variants} variants, "
        f"{outcome.rejected_rows} rejected rows"
    )
    return "\n".join(lines)


def load_config_file(path: Path) -> SyncConfig:
    """A config from a JSON file, validated like the API validates it."""
    try:
        return SyncConfig.model_validate_json(path.read_bytes())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}"
            for item in error.errors()
        )
        fail(f"{path}: invalid config ({problems})", status=EX_DATAERR)
    except OSError as error:
        fail(f"{path}: {error.strerror}", status=EX_NOT_FOUND if isinstance(error, FileNotFoundError) else 1)


def make_preview_command(load_config: ConfigLoader | None = None) -> click.Command:
    """The `preview` command; `load_config` resolves a config id (from the database) if given."""

    @click.command("preview")
    @click.argument("target")
    @click.option(
        "--limit",
        default=DEFAULT_LIMIT,
        show_default=True,
        type=click.IntRange(min=0),
        help="How many products to print.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    def preview(target: str, limit: int, as_json: bool) -> None:  # fmt: skip
        """Fetch and map the feed of CONFIG.json or config ID; print the first products, row errors and counts."""
        path = Path(target)
        policy: SourcePolicy | None = None  # a config file is the operator's own: read as written
        if path.suffix == ".json" or path.exists():
            config = load_config_file(path)
        elif load_config is None:
            fail(f"{target}: not a config file (config ids need the database)", status=EX_NOT_FOUND)
        else:
            try:
                config, policy = asyncio.run(load_config(target))
            except ErpsyncError as error:
                fail(str(error), status=exit_status(error))
        try:
            result = asyncio.run(preview_feed(config, limit=limit, policy=policy))
        except ErpsyncError as error:
            click.echo(f"erpsync preview: {error}", err=True)
            sys.exit(1)
        if as_json:
            click.echo(orjson.dumps(preview_document(result, config)).decode())
        else:
            click.echo(render_text(result, config))

    return preview


preview_command = make_preview_command()
