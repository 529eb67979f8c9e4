"""The shop's variants by SKU, so that a ``sku:`` search answers from an index rather than a scan.

A search for a few hundred SKUs over 500,000 variants scanned and matched every variant, seconds a
query. The index maps each SKU, lowercased as search compares it, to the variants holding it. It lives
on the ``ShopState`` outside its dataclass fields (``save_state`` never writes it), is built from the
shop at its first write or search (a new shop's, empty; a loaded one's, once: 1.5 s at 500,000
variants), and is told of every SKU a write sets (``note_sku``, from ``products.py``, which
every productSet and productVariantsBulkUpdate goes through, bulk lines included) and of every product
deleted (``forget_product``). Each hit is checked against the shop before it is handed out — the
variant still in its product, still with that SKU — so a variant dropped by a productSet's variant list
is never found, and the search filter runs on what the index returns, so answers are the scan's.
"""

from __future__ import annotations

from shopify_simulator.search import SearchQuery, required_values
from shopify_simulator.state import Product, ShopState, Variant

_KEY = "_sku_index"

# lowercased SKU -> variant id -> variant
SkuIndex = dict[str, dict[str, Variant]]


def _index(state: ShopState) -> SkuIndex:
    index: SkuIndex | None = state.__dict__.get(_KEY)
    if index is None:
        index = {}
        for variant in state.all_variants():
            if variant.sku:
                index.setdefault(variant.sku.lower(), {})[variant.id] = variant
        state.__dict__[_KEY] = index
    return index


def note_sku(state: ShopState, variant: Variant, old_sku: str | None) -> None:
    """Call after a write set ``variant.sku`` (a new variant has ``old_sku`` None)."""
    index = _index(state)  # built at the first write: a new shop's is empty then, and stays current
    if old_sku and old_sku.lower() != (variant.sku or "").lower():
        holders = index.get(old_sku.lower())
        if holders is not None:
            holders.pop(variant.id, None)
            if not holders:
                del index[old_sku.lower()]
    if variant.sku:
        index.setdefault(variant.sku.lower(), {})[variant.id] = variant


def forget_product(state: ShopState, product: Product) -> None:
    """A deleted product's variants leave the index."""
    index: SkuIndex | None = state.__dict__.get(_KEY)
    if index is None:
        return
    for variant in product.variants:
        holders = index.get((variant.sku or "").lower())
        if holders is not None and holders.get(variant.id) is variant:
            del holders[variant.id]
            if not holders:
                del index[(variant.sku or "").lower()]


def _in_shop(state: ShopState, variant: Variant, key: str) -> bool:
    product = state.products.get(variant.product_id)
    return (
        product is not None
        and (variant.sku or "").lower() == key
        and any(held is variant for held in product.variants)
    )


def variants_with_skus(state: ShopState, keys: set[str]) -> list[Variant]:
    """The variants in the shop holding any of these lowercased SKUs; stale entries are dropped."""
    index = _index(state)
    found: list[Variant] = []
    for key in keys:
        holders = index.get(key)
        if not holders:
            continue
        for variant_id, variant in list(holders.items()):
            if _in_shop(state, variant, key):
                found.append(variant)
            else:
                del holders[variant_id]
        if not holders:
            del index[key]
    return found


def candidate_variants(state: ShopState, query: SearchQuery) -> list[Variant] | None:
    """The variants that can match ``query`` by its ``sku:`` terms, or None when it needs a full scan."""
    keys = required_values(query, "sku")
    return None if keys is None else variants_with_skus(state, keys)
