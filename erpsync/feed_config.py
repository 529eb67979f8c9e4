"""The parts of a sync config that say how a feed is shaped: how its records group into products,
values computed from several fields or none, and the price rule.

Real exports group variants in four ways (adjacent rows, rows anywhere, parent and child rows, nested
records), so the mapping alone cannot say how to read them; `Grouping` does. `FieldRule` covers what a
plain path cannot: a constant, the first non-empty of several fields, a value map.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GroupingMode = Literal["adjacent", "anywhere", "parent", "nested"]
WeightUnit = Literal["g", "kg", "lb", "oz"]
PriceTarget = Literal["price", "compare_at_price"]


_BOTH_PRICES: list[PriceTarget] = ["price", "compare_at_price"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Grouping(_Strict):
    """How rows become products.

    - `adjacent`: rows sharing `product_key` follow each other (the fastest; today's default);
    - `anywhere`: rows sharing `product_key` may be anywhere in the feed (sorted on disk first);
    - `parent`: a parent row holds the product fields and child rows the variants; a child names its
      parent in `parent` (matched against the parent's `parent_id` field, by default its SKU field), or
      a parent lists its children in `children` (Magento's `configurable_variations`); either order;
    - `nested`: each record is a product whose variants are the list at `variants`.
    """

    mode: GroupingMode = "adjacent"
    parent: str | None = Field(default=None, min_length=1)
    parent_id: str | None = Field(default=None, min_length=1)
    children: str | None = Field(default=None, min_length=1)
    variants: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _fields_for_mode(self) -> Grouping:
        if self.mode == "parent" and not (self.parent or self.children):
            raise ValueError("grouping mode 'parent' needs 'parent' (a child's field) or 'children'")
        if self.mode == "nested" and not self.variants:
            raise ValueError("grouping mode 'nested' needs 'variants', the path of a product's variant list")
        if self.mode != "parent" and (self.parent or self.children or self.parent_id):
            raise ValueError("'parent', 'parent_id' and 'children' belong to grouping mode 'parent'")
        if self.mode != "nested" and self.variants:
            raise ValueError("'variants' belongs to grouping mode 'nested'")
        return self


class FieldRule(_Strict):
    """A target's value computed instead of read from one path: exactly one of `path`, `first` (the first
    non-empty of several fields) or `const`; then, optionally, `map` (values matched trimmed and
    case-insensitively; `default` for a value the map does not list, else the value is kept)."""

    path: str | None = Field(default=None, min_length=1)
    first: list[str] | None = Field(default=None, min_length=1)
    const: str | None = None
    map: dict[str, str] | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [name for name in ("path", "first", "const") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a rule takes exactly one of 'path', 'first' or 'const'")
        if self.default is not None and self.map is None:
            raise ValueError("'default' belongs with 'map'")
        return self


class PriceRule(_Strict):
    """The feed's price times `multiplier`, plus `markup`, rounded to cents, then up to the next price
    ending in `ending` (0.99 makes 12.34 into 12.99); applied to the targets in `applies_to`."""

    multiplier: Decimal = Field(default=Decimal(1), gt=0, le=1000)
    markup: Decimal = Field(default=Decimal(0), ge=-1_000_000, le=1_000_000)
    ending: Decimal | None = Field(default=None, ge=0, lt=1, decimal_places=2)
    applies_to: list[PriceTarget] = Field(default_factory=_BOTH_PRICES.copy, min_length=1)


__all__ = ["FieldRule", "Grouping", "GroupingMode", "PriceRule", "PriceTarget", "WeightUnit"]
