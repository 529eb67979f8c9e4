"""Fixtures that start the Shopify simulator on 127.0.0.1 and speak to it in raw HTTP, as the contract says.

Nothing here uses erpsync's own Shopify client, so the client and the simulator cannot agree on a shared
mistake.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from shopify_simulator.server import SimulatorOptions, create_app

TOKEN = "shpat_test_token"
VERSION = "2026-10"

PRODUCT_SET = """
mutation call($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product { id handle title status updatedAt
      options { name values }
      variants(first: 250) { nodes { id sku title price selectedOptions { name value } inventoryItem { id } } } }
    userErrors { field message code }
  }
}
"""

PRODUCT_DELETE = """
mutation call($input: ProductDeleteInput!) {
  productDelete(input: $input) { deletedProductId userErrors { field message } }
}
"""


@dataclasses.dataclass
class GraphQLReply:
    """One HTTP answer of the GraphQL endpoint."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        """The ``data`` member (fails the test if the body has none)."""
        assert isinstance(self.body, dict), self.body
        return self.body["data"]


class SimulatorHttp:
    """Raw HTTP against a running simulator."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.base_url = str(server.make_url("")).rstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL of a path on the simulator."""
        return f"{self.base_url}{path}"

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = TOKEN,
        version: str = VERSION,
    ) -> GraphQLReply:
        """POST a GraphQL document as a Shopify client does."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["X-Shopify-Access-Token"] = token
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        async with self.session.post(
            self.url(f"/admin/api/{version}/graphql.json"), json=body, headers=headers
        ) as response:
            text = await response.text()
            try:
                parsed: Any = await response.json(content_type=None)
            except ValueError:
                parsed = text
            return GraphQLReply(status=response.status, body=parsed, headers=dict(response.headers))

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """``data`` of a request that must succeed without top-level errors."""
        reply = await self.graphql(query, variables)
        assert reply.status == 200, reply.body
        assert "errors" not in reply.body, reply.body
        return reply.data

    async def product_set(
        self, product_input: dict[str, Any], identifier: dict[str, Any] | None = None
    ) -> Any:
        """Run productSet; return its payload."""
        variables: dict[str, Any] = {"input": product_input}
        if identifier is not None:
            variables["identifier"] = identifier
        data = await self.ok(PRODUCT_SET, variables)
        return data["productSet"]

    async def define_id_metafield(self, namespace: str, key: str) -> Any:
        """Create a product metafield definition of type id (the step before a custom ID can be used)."""
        data = await self.ok(
            "mutation($d: MetafieldDefinitionInput!) { metafieldDefinitionCreate(definition: $d) "
            "{ createdDefinition { id } userErrors { field message code } } }",
            {"d": {"name": key, "namespace": namespace, "key": key, "type": "id", "ownerType": "PRODUCT"}},
        )
        return data["metafieldDefinitionCreate"]

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call an admin endpoint and return its JSON."""
        async with self.session.request(method, self.url(path), json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    @staticmethod
    def product_input(
        handle: str, skus: list[str], *, title: str | None = None, price: str = "19.90"
    ) -> dict[str, Any]:
        """A productSet input with one ``Size`` option and a variant per SKU."""
        return product_input(handle, skus, title=title, price=price)

    async def wait_bulk(self, operation_id: str, *, limit_seconds: float = 20.0) -> dict[str, Any]:
        """Poll ``bulkOperation(id:)`` until it is finished."""
        query = """query($id: ID!) { bulkOperation(id: $id) {
            id status errorCode objectCount rootObjectCount fileSize url partialDataUrl type } }"""
        deadline = asyncio.get_running_loop().time() + limit_seconds
        while True:
            data = await self.ok(query, {"id": operation_id})
            operation: dict[str, Any] = data["bulkOperation"]
            if operation["status"] in ("COMPLETED", "FAILED", "CANCELED"):
                return operation
            assert asyncio.get_running_loop().time() < deadline, operation
            await asyncio.sleep(0.02)


def product_input(
    handle: str, skus: list[str], *, title: str | None = None, price: str = "19.90"
) -> dict[str, Any]:
    """A productSet input with one ``Size`` option and a variant per SKU (sizes S, M, L, ...)."""
    sizes = [f"Size{index}" for index in range(len(skus))]
    return {
        "handle": handle,
        "title": title or handle.replace("-", " ").title(),
        "status": "ACTIVE",
        "productOptions": [{"name": "Size", "values": [{"name": size} for size in sizes]}],
        "variants": [
            {"optionValues": [{"optionName": "Size", "name": size}], "sku": sku, "price": price}
            for size, sku in zip(sizes, skus, strict=True)
        ],
    }


@pytest.fixture
def simulator_options() -> SimulatorOptions:
    """Options for a fast, deterministic simulator with the admin endpoints on."""
    return SimulatorOptions(
        access_token=TOKEN,
        client_id="client-id",
        client_secret="client-secret",
        bulk_rate=5000.0,
        bulk_random_seed=7,
        admin=True,
    )


StartSimulator = Callable[..., Awaitable[SimulatorHttp]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators with given options; all are stopped at the end of the test."""
    started: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def start(options: SimulatorOptions) -> SimulatorHttp:
        server = TestServer(create_app(options), host="127.0.0.1", port=0)
        await server.start_server()
        session = aiohttp.ClientSession()
        started.append((server, session))
        return SimulatorHttp(server, session)

    yield start
    for server, session in reversed(started):
        await session.close()
        await server.close()


@pytest.fixture
async def simulator(start_simulator: StartSimulator, simulator_options: SimulatorOptions) -> SimulatorHttp:
    """One simulator with the default test options."""
    return await start_simulator(simulator_options)
