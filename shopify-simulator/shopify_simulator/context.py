"""What one GraphQL execution can see: the shop, the options, the counters, and where it was asked from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from graphql import GraphQLResolveInfo

from shopify_simulator.options import SimulatorOptions
from shopify_simulator.state import ShopState
from shopify_simulator.stats import Faults, Stats

if TYPE_CHECKING:
    from shopify_simulator.bulk import BulkManager


@dataclass
class ExecutionContext:
    """Passed to every resolver as ``info.context``."""

    state: ShopState
    options: SimulatorOptions
    stats: Stats
    faults: Faults
    base_url: str  # scheme://host[:port] of the request, so that returned URLs work on any port
    api_version: str
    bulk: BulkManager | None = None
    # Bulk query export: ``first``/``after`` are ignored and every node is returned.
    # https://shopify.dev/docs/api/usage/bulk-operations/queries
    bulk_query: bool = False
    # Inside a bulk mutation line: productSet's ``synchronous`` is ignored, bulk mutations refused.
    bulk_mutation: bool = False
    search_warnings: list[dict[str, Any]] = field(default_factory=list)

    def absolute_url(self, path: str | None) -> str | None:
        """An absolute URL below the simulator for a stored path."""
        if path is None:
            return None
        return f"{self.base_url}{path}"


# What every resolver receives as ``info``.
ResolveInfo: TypeAlias = "GraphQLResolveInfo[ExecutionContext]"
