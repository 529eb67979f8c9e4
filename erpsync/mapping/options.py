"""A product's options: which of the config's options it uses, what they are called, and whether its
variants can be told apart.

Real feeds mix products with different options in one file: a size-only product next to a size and
colour one (its colour cells empty), and Shopify's own CSV writes a product without options as the
option `Title` with the value `Default Title`. So an option whose values are empty on every variant
of a product, or that is Shopify's default title, is not an option of that product; the others must
have a value on every variant, and no two variants may share all their values.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from erpsync.mapping.drafts import VariantDraft
from erpsync.mapping.state import Group, MapperState
from erpsync.mapping.values import safe_text

_option_values_of = itemgetter(VariantDraft._fields.index("option_values"))
# Shopify's name and value for "this product has no options" (its product CSV and its API).
DEFAULT_OPTION = ("title", "default title")


def option_value(value: Any) -> str:
    """An option value: trimmed text, "" when absent or not text."""
    if value.__class__ is str:
        return value.strip()
    return safe_text(value) or ""


def option_name(path: str) -> str:
    """An option's name when neither the feed nor the config gives one: the path's last part."""
    name = path.rsplit(".", 1)[-1].lstrip("@")
    return name[:1].upper() + name[1:]


def product_names(defaults: tuple[str, ...], given: list[Any]) -> tuple[str, ...]:
    """The option names of one product: those its row gives (trimmed), else the config's."""
    return tuple(
        (text.strip() if isinstance(text, str) and text.strip() else default)
        for default, text in zip(defaults, given, strict=False)
    )


def _unused(names: tuple[str, ...], variants: list[VariantDraft]) -> list[int]:
    """The options this product does not use: empty on every variant, or Shopify's default title."""
    unused = []
    for index, name in enumerate(names):
        values = {variant.option_values[index] for variant in variants}
        if values == {""} or (
            name.lower() == DEFAULT_OPTION[0]
            and {value.lower() for value in values} <= {DEFAULT_OPTION[1], ""}
        ):
            unused.append(index)
    return unused


def _without(
    names: tuple[str, ...], variants: list[VariantDraft], unused: list[int]
) -> tuple[tuple[str, ...], list[VariantDraft]]:
    kept = [index for index in range(len(names)) if index not in unused]
    trimmed = [
        variant._replace(option_values=tuple(variant.option_values[index] for index in kept))
        for variant in variants
    ]
    return tuple(names[index] for index in kept), trimmed


class OptionsPart(MapperState):
    """The option checks, shared by the batch and the row path."""

    def _settled_options(
        self, names: tuple[str, ...], variants: list[VariantDraft]
    ) -> tuple[tuple[str, ...], list[VariantDraft]] | None:
        """Option names and variants if every variant has a distinct, complete set of the product's
        option values; None if `_check_options` must explain why not."""
        combinations = list(map(_option_values_of, variants))
        distinct = len(combinations) == 1 or len(set(combinations)) == len(combinations)
        if names and distinct and all(map(all, combinations)) and not _default_title(names, combinations):
            return names, variants
        unused = _unused(names, variants)
        if unused:
            names, variants = _without(names, variants, unused)
            combinations = list(map(_option_values_of, variants))
        if len(variants) == 1:
            # A lone variant keeps only the options it has a value for.
            return _without(names, variants, [i for i, value in enumerate(combinations[0]) if not value])
        if names and all(map(all, combinations)) and len(set(combinations)) == len(combinations):
            return names, variants
        return None

    def _check_options(
        self, group: Group, names: tuple[str, ...]
    ) -> tuple[tuple[str, ...], list[VariantDraft]]:
        """Option names for the product; every variant needs a distinct combination of values."""
        settled = self._settled_options(names, group.variants)
        if settled is not None:
            return settled
        unused = _unused(names, group.variants)
        targets = [target for index, target in enumerate(self._option_targets) if index not in unused]
        names, variants = _without(names, group.variants, unused)
        seen: dict[tuple[str, ...], VariantDraft] = {}
        for variant in variants:
            for index, value in enumerate(variant.option_values):
                if not value:
                    message = "is empty, but the product has variants"
                    self._reject(group, variant.row, variant.sku, targets[index], message)
            first = seen.setdefault(variant.option_values, variant)
            if first is not variant:
                described = ", ".join(variant.option_values) or "none"
                field = targets[0] if targets else "variant.option1"
                message = f"option values ({described}) are the same as row {first.row}'s"
                if not names:
                    message = f"no option tells it from row {first.row} (map variant.option1)"
                self._reject(group, variant.row, variant.sku, field, message)
        return names, variants


def _default_title(names: tuple[str, ...], combinations: list[tuple[str, ...]]) -> bool:
    """Whether the product uses Shopify's `Title` / `Default Title` (rare: checked after the rest)."""
    return any(name.lower() == DEFAULT_OPTION[0] for name in names) and any(
        value.lower() == DEFAULT_OPTION[1] for combination in combinations for value in combination
    )


__all__ = ["OptionsPart", "option_name", "product_names"]
