"""Shopify's documented input limits, checked on each mapped product before anything is written.

A product past one is rejected like a product with a bad cell: named by key, SKU and field in the run's
result, left alone in the shop (neither written nor deleted), while the other products are sent. Without
the check the product would travel to a bulk operation and come back a userError a run later, or (for a
metafield value) be refused only once the API version enforces it.

Limits and where they are stated:
- title, handle, SKU, barcode, each tag, each option value: 255 characters (handle and tag: Matrixify's
  import limits, https://matrixify.app/documentation/shopify-limits/; title, SKU, barcode, option value: the
  same figure in third-party references, https://sync.krokanti.com/en/blog/shopify-product-limits-variants-options-2026
  — Shopify's reference does not print them; the simulator does not enforce them);
- 250 tags a product: https://shopify.dev/changelog/product-tags-now-have-a-limit-of-250-per-product;
- 3 options, 2,048 variants a product: shared/docs/shopify-contract.md §5.1,
  https://shopify.dev/changelog/the-product-variant-limit-is-now-2048-for-all-merchants;
- metafield values (https://shopify.dev/docs/apps/build/metafields/metafield-limits): 65,536 bytes for most
  types, 2,048 for `id` and `url`; `json` 128 KB from API version 2026-04, 2 million characters before
  (https://shopify.dev/changelog/reduced-metafield-value-sizes — first announced as 16 KB for every type,
  revised after feedback to 128 KB for JSON, other types unchanged).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from erpsync.mapping.drafts import MapOutcome, MetafieldDraft, ProductDraft, RowError

MAX_TEXT = 255
MAX_TAGS = 250
MAX_OPTIONS = 3
MAX_VARIANTS = 2048
METAFIELD_BYTES = 65_536
SHORT_METAFIELD_BYTES = {"id": 2_048, "url": 2_048}
JSON_BYTES_FROM_2026_04 = 128 * 1024
JSON_CHARACTERS_BEFORE = 2_000_000
JSON_LIMIT_VERSION = "2026-04"


def _metafield_problem(metafield: MetafieldDraft, api_version: str) -> str | None:
    size = len(metafield.value.encode("utf-8"))
    if metafield.type == "json":
        if api_version >= JSON_LIMIT_VERSION:
            if size > JSON_BYTES_FROM_2026_04:
                return f"a json value is at most 128 KB from API version 2026-04; this one is {size:,} bytes"
        elif len(metafield.value) > JSON_CHARACTERS_BEFORE:
            return f"a json value is at most 2,000,000 characters; this one is {len(metafield.value):,}"
        return None
    limit = SHORT_METAFIELD_BYTES.get(metafield.type, METAFIELD_BYTES)
    if size > limit:
        return f"a {metafield.type} value is at most {limit:,} bytes; this one is {size:,}"
    return None


def _too_long(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_TEXT:
        return f"at most {MAX_TEXT} characters; this one has {len(value):,}"
    return None


def product_problems(product: ProductDraft, api_version: str) -> Iterator[tuple[str | None, str, str]]:
    """(SKU, field, message) for each limit the product passes; nothing for a product within them all."""
    first_sku = product.variants[0].sku if product.variants else None
    for name, value in (("title", product.title), ("handle", product.handle)):
        if (problem := _too_long(value)) is not None:
            yield first_sku, name, problem
    if len(set(product.tags)) > MAX_TAGS:
        yield first_sku, "tags", f"at most {MAX_TAGS} tags a product; this one has {len(set(product.tags)):,}"
    for tag in product.tags:
        if (problem := _too_long(tag)) is not None:
            yield first_sku, "tags", f"each tag is {problem}"
            break
    if len(product.options) > MAX_OPTIONS:
        yield (
            first_sku,
            "options",
            f"at most {MAX_OPTIONS} options a product; this one has {len(product.options)}",
        )
    if len(product.variants) > MAX_VARIANTS:
        yield (
            first_sku,
            "variants",
            f"at most {MAX_VARIANTS:,} variants a product; this one has {len(product.variants):,}",
        )
    for metafield in product.metafields:
        if (problem := _metafield_problem(metafield, api_version)) is not None:
            yield first_sku, f"metafield {metafield.namespace}.{metafield.key}", problem
    yield from _variant_problems(product, api_version)


def _variant_problems(product: ProductDraft, api_version: str) -> Iterator[tuple[str | None, str, str]]:
    for variant in product.variants:
        for name, value in (("variant.sku", variant.sku), ("variant.barcode", variant.barcode)):
            if (problem := _too_long(value)) is not None:
                yield variant.sku, name, problem
        for position, option_value in enumerate(variant.option_values, start=1):
            if (problem := _too_long(option_value)) is not None:
                yield variant.sku, f"variant.option{position}", problem
        for metafield in variant.metafields:
            if (problem := _metafield_problem(metafield, api_version)) is not None:
                yield variant.sku, f"variant metafield {metafield.namespace}.{metafield.key}", problem


class LimitCheck:
    """Drops the products past a limit from the mapped stream and keeps their row errors for the outcome."""

    def __init__(self, api_version: str) -> None:
        self.api_version = api_version
        self.errors: list[RowError] = []
        self.rejected_keys: set[str] = set()
        self.rejected_skus: set[str] = set()
        self.rejected_rows = 0

    def keep(self, products: list[ProductDraft]) -> list[ProductDraft]:
        """The products within every limit; the others are recorded as rejected."""
        kept: list[ProductDraft] = []
        for product in products:
            problems = list(product_problems(product, self.api_version))
            if not problems:
                kept.append(product)
                continue
            row = product.variants[0].row if product.variants else 0
            self.errors += [
                RowError(row, sku, field, f"{message} (Shopify's limit)", None, product.key)
                for sku, field, message in problems
            ]
            self.rejected_keys.add(product.key)
            self.rejected_skus.update(variant.sku for variant in product.variants)
            self.rejected_rows += max(1, len(product.variants))
        return kept

    def outcome(self, outcome: MapOutcome) -> MapOutcome:
        """The mapped outcome with the products this check rejected added to those mapping rejected."""
        if not self.rejected_keys:
            return outcome
        return dataclasses.replace(
            outcome,
            rejected_rows=outcome.rejected_rows + self.rejected_rows,
            products=outcome.products - len(self.rejected_keys),
            variants=outcome.variants - self.rejected_rows,
            errors=(*outcome.errors, *self.errors),
            rejected_keys=outcome.rejected_keys | self.rejected_keys,
            rejected_skus=outcome.rejected_skus | self.rejected_skus,
        )
