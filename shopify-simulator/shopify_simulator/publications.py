"""Sales channels: the shop's publications and, per product, the ones it is published on.

A product created through the API is published nowhere: ProductStatus ACTIVE "aren't automatically
published to sales channels" (shopify.dev enums/ProductStatus). ``publishablePublish`` and
``publishableUnpublish`` add and remove publications, directly or as bulk mutation lines. Status and
publications are separate, as in Shopify: archiving keeps the publications, it only makes the product
unavailable; ``/_simulator/stats`` ``published`` lists the products published on each channel.
https://shopify.dev/docs/api/admin-graphql/latest/mutations/publishablePublish
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopify_simulator.connections import View, connection
from shopify_simulator.context import ExecutionContext, ResolveInfo
from shopify_simulator.product_rules import UserErrorBody, user_error
from shopify_simulator.state import Product, ShopState


def shop_publications(state: ShopState, names: tuple[str, ...]) -> dict[str, str]:
    """The shop's publications (id -> name), made from the options the first time they are asked for."""
    if not state.publications:
        for name in names:
            state.publications[state.new_id("Publication")] = name
    return state.publications


def publication_view(publication_id: str, name: str) -> View:
    """A Publication; ``name`` is deprecated in 2026-10 for ``catalog.title``, both are served."""
    return {
        "__typename": "Publication",
        "id": publication_id,
        "name": name,
        "autoPublish": False,
        "supportsFuturePublishing": False,
        "catalog": {"__typename": "AppCatalog", "id": publication_id, "title": name, "status": "ACTIVE"},
    }


def product_publication_fields(product: Product) -> View:
    """``Product.publishedOnPublication`` and ``resourcePublicationsCount``, for ``views.product_view``."""

    def published_on(info: ResolveInfo, **arguments: Any) -> bool:
        return str(arguments["publicationId"]) in product.publication_ids

    return {
        "publishedOnPublication": published_on,
        "resourcePublicationsCount": {"count": len(product.publication_ids), "precision": "EXACT"},
    }


def _context(info: ResolveInfo) -> ExecutionContext:
    context: ExecutionContext = info.context
    context.stats.mutations[info.field_name] += 1
    return context


def query_publications(info: ResolveInfo, **arguments: Any) -> View:
    """``publications(first, after, catalogType)``: every channel (the simulator's catalogs are all apps')."""
    context: ExecutionContext = info.context
    known = shop_publications(context.state, context.options.publication_names)
    return connection(
        info, list(known.items()), lambda item: publication_view(*item), lambda item: item[0], arguments
    )


def query_publication(info: ResolveInfo, **arguments: Any) -> View | None:
    """``publication(id)``."""
    context: ExecutionContext = info.context
    name = shop_publications(context.state, context.options.publication_names).get(arguments["id"])
    return None if name is None else publication_view(arguments["id"], name)


def _change(publish: bool) -> Callable[..., View]:
    def resolve(info: ResolveInfo, **arguments: Any) -> View:
        context = _context(info)
        from shopify_simulator.views import product_view, shop_view

        known = shop_publications(context.state, context.options.publication_names)
        product = context.state.products.get(arguments["id"])
        errors: list[UserErrorBody] = []
        if product is None:
            errors.append(user_error(["id"], "Product does not exist"))
        chosen: list[str] = []
        for index, entry in enumerate(arguments["input"]):
            publication_id = entry.get("publicationId") or entry.get("channelId")
            if publication_id not in known:
                errors.append(user_error(["input", index, "publicationId"], "Publication does not exist"))
            else:
                chosen.append(publication_id)
        if errors or product is None:
            return {"publishable": None, "shop": shop_view(context.state, context), "userErrors": errors}
        if publish:
            product.publication_ids += [p for p in chosen if p not in product.publication_ids]
        else:
            product.publication_ids = [p for p in product.publication_ids if p not in chosen]
        return {
            "publishable": product_view(context.state, product),
            "shop": shop_view(context.state, context),
            "userErrors": [],
        }

    return resolve


PUBLICATION_QUERIES: dict[str, Callable[..., Any]] = {
    "publications": query_publications,
    "publication": query_publication,
}
PUBLICATION_MUTATIONS: dict[str, Callable[..., Any]] = {
    "publishablePublish": _change(publish=True),
    "publishableUnpublish": _change(publish=False),
}
