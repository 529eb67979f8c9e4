"""The daily variant creation cap: shops below Plus holding 50,000 variants create at most 1,000 a day.

Documented on the product mutations ("a throttle that takes effect when a store has 50,000 product
variants. After this threshold is reached, no more than 1,000 new product variants can be created per
day", ``ProductCreatePayload``/``productCreate`` pages of https://shopify.dev/docs/api/admin-graphql) and
in the changelog (https://shopify.dev/changelog/api-call-limits-will-be-applied-to-variant-creation: an
HTTP 429, "not Plus stores"). The recorded REST reply is "429 Too Many Requests … Daily variant creation
limit reached. Please try again later." (Matrixify, https://matrixify.app/whats-new/shopify-variant-creation-limit/),
and imports elsewhere stop at that point. How a GraphQL ``productSet`` (and a bulk line) answers is
**unconfirmed**: the schema's ``ProductSetUserErrorCode`` has no throttle code, so the simulator answers
a top-level error with Shopify's message on the refused line, its ``extensions.code`` an option.

A product is refused whole when its new variants do not fit what is left of the day (UTC). The count
of the day lives in ``ShopState.counters``, so a saved shop keeps it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.state import Product, ShopState

CAP_MESSAGE = "Daily variant creation limit reached. Please try again later."
EXEMPT_PLANS = frozenset({"plus", "enterprise"})


class DailyVariantCapReached(GraphQLError):
    """Raised from ``productSet``: the line (or request) gets Shopify's message and a null payload."""


def new_variant_count(product_input: Mapping[str, Any], existing: Product | None) -> int:
    """How many variants this ``productSet`` would create (an update's variants without a known id)."""
    variants = product_input.get("variants")
    if existing is None:
        return len(variants) if variants is not None else 1
    if variants is None:
        return 0
    known = {variant.id for variant in existing.variants}
    return sum(1 for variant in variants if variant.get("id") not in known)


def _day_key(day_offset: int) -> str:
    day = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=day_offset)
    return f"variants_created:{day.isoformat()}"


def _capped(state: ShopState, options: SimulatorOptions) -> bool:
    if options.plan in EXEMPT_PLANS or options.variant_cap_per_day is None:
        return False
    # Variant ids are never reused, so fewer ids handed out than the threshold means fewer variants held:
    # the exact count (a pass over every product) is only needed past that point.
    if state.counters.get("ProductVariant", 0) < options.variant_cap_threshold:
        return False
    held = sum(len(product.variants) for product in state.products.values())
    return held >= options.variant_cap_threshold


def check_variant_cap(
    state: ShopState, options: SimulatorOptions, new_variants: int, *, day_offset: int = 0
) -> None:
    """Count `new_variants` against today's cap, or raise `DailyVariantCapReached` when they do not fit."""
    if new_variants <= 0 or options.variant_cap_per_day is None:
        return
    key = _day_key(day_offset)
    created = state.counters.get(key, 0)
    full = created + new_variants > options.variant_cap_per_day
    # Once a day's cap refused a line, the rest of the day is refused without counting the shop again.
    if full and state.counters.get(f"{key}:refused"):
        raise _refusal(options)
    if not _capped(state, options):
        return
    if full:
        state.counters[f"{key}:refused"] = 1
        raise _refusal(options)
    state.counters[key] = created + new_variants


def _refusal(options: SimulatorOptions) -> DailyVariantCapReached:
    extensions = {"code": options.variant_cap_error_code} if options.variant_cap_error_code else None
    return DailyVariantCapReached(CAP_MESSAGE, extensions=extensions)
