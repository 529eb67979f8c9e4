"""Product handles as Shopify makes them: from the title when absent, a number appended when taken.

https://shopify.dev/docs/api/admin-graphql/latest/queries/productByHandle
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.product_rules import user_error
from shopify_simulator.state import Product, ShopState


def handle_from_title(title: str) -> str:
    """Lowercase, accents dropped, runs of other characters to one ``-``.

    https://shopify.dev/docs/api/admin-graphql/latest/queries/productByHandle
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    handle = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return handle or "product"


def unique_handle(state: ShopState, wanted: str, *, owner_id: str | None = None) -> str:
    """``wanted`` if free, else ``wanted-1``, ``wanted-2``... (``potion``, ``potion-1``)."""
    candidate, suffix = wanted, 0
    while (other := state.product_by_handle(candidate)) is not None and other.id != owner_id:
        suffix += 1
        candidate = f"{wanted}-{suffix}"
    return candidate


def free_handle(
    state: ShopState,
    handle: str | None,
    existing: Product | None,
    options: SimulatorOptions,
    errors: list[dict[str, Any]],
) -> str | None:
    """The handle to write, or a userError when another product holds it (a create may get a suffix)."""
    if handle is None:
        return None
    other = state.product_by_handle(handle)
    if other is None or (existing is not None and other.id == existing.id):
        return handle
    if existing is None and options.taken_handle_on_create == "suffix":
        return unique_handle(state, handle)
    errors.append(
        user_error(
            ["input", "handle"], "Handle already in use. Please provide a new handle.", "HANDLE_NOT_UNIQUE"
        )
    )
    return handle
