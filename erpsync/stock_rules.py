"""The stock modes: from the ERP's quantity and what the shop holds, the `available` quantity to write.

Pure, so each rule is a table in tests/test_stock_rules.py. Names used below:
- `erp`: the feed's quantity now; `erp_previous`: the feed's quantity when erpsync last saw the SKU;
- `last_known`: `available` as erpsync last wrote (or read) it; `shop_now`: `available` in the shop now;
- `ceiling`: `erp - safety_stock`, never below 0: the shop never shows more than that.

absolute — the ERP's quantity is the truth, for ERPs that import the shop's orders. Units the shop sold
  since erpsync's last write (`last_known - shop_now`) are taken off the ERP's quantity, unless the ERP's
  quantity already went down by at least that much since its previous feed (the ERP imported those
  orders): wanted = ceiling - max(0, sold - erp_drop). So a sale made between the ERP's snapshot and the
  write is never re-listed. An ERP that imported the sales *and* was restocked in the same interval shows
  that many units too few until its quantity next changes; too few, never too many.
delta — for ERPs that do not import the shop's orders: the ERP's change since its previous feed is applied
  to the shop's current quantity: wanted = min(ceiling, shop_now + erp - erp_previous). A SKU seen for the
  first time (no previous ERP quantity) is written as in absolute mode, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StockMode = Literal["absolute", "delta"]


@dataclass(frozen=True, slots=True)
class StockPolicy:
    """A config's stock settings and the location its stock is written at."""

    mode: StockMode
    safety_stock: int
    location_id: str


@dataclass(frozen=True, slots=True)
class StockFacts:
    """What is known of one SKU's stock when its quantity is decided."""

    erp: int
    erp_previous: int | None
    last_known: int | None
    shop_now: int


def ceiling(erp: int, safety_stock: int) -> int:
    """The most the shop may show: the ERP's quantity less the safety stock, never below 0."""
    return max(0, erp - safety_stock)


def wanted_quantity(mode: StockMode, safety_stock: int, facts: StockFacts) -> int:
    """The `available` quantity the mode wants the shop to hold."""
    top = ceiling(facts.erp, safety_stock)
    if mode == "delta":
        if facts.erp_previous is None:
            return top  # first sight: the ERP's quantity, once
        return max(0, min(top, facts.shop_now + facts.erp - facts.erp_previous))
    sold = max(0, facts.last_known - facts.shop_now) if facts.last_known is not None else 0
    erp_drop = max(0, facts.erp_previous - facts.erp) if facts.erp_previous is not None else 0
    return max(0, top - max(0, sold - erp_drop))
