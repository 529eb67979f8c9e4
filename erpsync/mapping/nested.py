"""Product records holding a list of variants (Shopify's products.json, JSON Lines, XML) flattened.

Each variant becomes one record `{"product": <product record>, "variant": <variant>, KEY_FIELD: key}`
and the config's paths are rewritten to match: product targets, product metafields, option names,
product-target rules and product_key under `product.`, variant ones under `variant.`. The key is the
product's product_key if the config names one, else its first variant's SKU. XML gives a product
with one variant element a dict, not a list: both are read. A product with no variants is a variant
of its own: its record is read for the variant fields too (a feed of simple products in the shape).
Each variant keeps its product record's row number and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from erpsync.feeds.records import RecordBatch
from erpsync.mapping.extract import path_getter
from erpsync.mapping.grouping import KEY_FIELD, Placed, adjacent, batches, text
from erpsync.mapping.items import placed
from erpsync.models import VARIANT_TARGETS, SyncConfig


def nested_config(config: SyncConfig) -> SyncConfig:
    """The config that reads the flattened records."""

    def prefix(target: str, path: str) -> str:
        return f"variant.{path}" if target in VARIANT_TARGETS else f"product.{path}"

    mapping = {target: prefix(target, path) for target, path in config.mapping.items()}
    rules = {
        target: rule.model_copy(
            update={
                "path": prefix(target, rule.path) if rule.path else None,
                "first": [prefix(target, path) for path in rule.first] if rule.first else None,
            }
        )
        for target, rule in config.rules.items()
    }
    metafields = [
        item.model_copy(update={"source_key": f"{item.owner}.{item.source_key}"})
        for item in config.metafield_mappings
    ]
    return adjacent(
        config,
        mapping=mapping,
        rules=rules,
        metafield_mappings=metafields,
        product_key=KEY_FIELD,
    )


class NestedStage:
    """One canonical record per variant, emitted as soon as its product record is read."""

    def __init__(self, config: SyncConfig, *, feed: str) -> None:
        assert config.grouping.variants is not None
        self.config = nested_config(config)
        self._feed = feed
        self._variants = path_getter(config.grouping.variants)
        self._key = path_getter(config.product_key) if config.product_key else None
        self._sku = path_getter(config.mapping["variant.sku"])

    def push(self, batch: RecordBatch) -> Iterator[RecordBatch]:
        rows, lines = placed(batch)
        out: list[Placed] = []
        for product, row, line in zip(batch.records, rows, lines, strict=False):
            for variant_record in self._flatten(product):
                out.append((row, line, variant_record, batch.problems))
        yield from batches(None, iter(out), feed_rows=batch.feed_rows)

    def _flatten(self, product: Any) -> list[dict[str, Any]]:
        if product.__class__ is not dict:
            # Not an object: the mapper explains it as a row that has no fields.
            return [{"product": product, "variant": product, KEY_FIELD: None}]
        variants = self._variants(product)
        if isinstance(variants, dict):
            variants = [variants]
        elif not isinstance(variants, list) or not variants:
            variants = [product]
        key = text(self._key(product)) if self._key is not None else ""
        if not key:
            key = next((sku for variant in variants if (sku := _sku(self._sku, variant))), "")
        return [{"product": product, "variant": variant, KEY_FIELD: key or None} for variant in variants]

    def finish(self) -> Iterator[RecordBatch]:
        return iter(())

    def close(self) -> None:
        """Nothing is spilled."""


def _sku(get: Any, variant: Any) -> str:
    return text(get(variant)) if variant.__class__ is dict else ""


__all__ = ["NestedStage", "nested_config"]
