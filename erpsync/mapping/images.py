"""A product's images as shops export them: a gallery gathered from all its rows, one image per URL.

Shopify's product CSV gives one image per row (rows that hold nothing else included), WooCommerce a
comma-separated list on the parent, Magento relative paths (resolved against `image_base_url` by the
rules stage, rules.py). The gallery keeps the feed's order, which sets the featured image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from erpsync.mapping.values import ValueProblem, split_urls


def one_url(value: Any) -> str:
    """A variant's image: exactly one http(s) URL."""
    urls = split_urls(value)
    if len(urls) != 1:
        raise ValueProblem("must be one http(s) URL")
    return urls[0]


def gallery(first: tuple[str, ...], more: Sequence[str]) -> tuple[str, ...]:
    """The first row's images, then the other rows' in order, each URL once."""
    return tuple(dict.fromkeys((*first, *more))) if more else first


__all__ = ["gallery", "one_url"]
