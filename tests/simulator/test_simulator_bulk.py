"""Staged uploads and bulk operations, driven in raw HTTP exactly as Shopify's bulk import guide describes."""

from __future__ import annotations

import dataclasses

import aiohttp
import orjson

STAGED_UPLOADS_CREATE = """mutation {
  stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename: "vars.jsonl",
                               mimeType: "text/jsonl", httpMethod: POST}]) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}"""
RUN_MUTATION = """mutation($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { id status type }
    userErrors { field message code }
  }
}"""
RUN_QUERY = """mutation($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}"""
LINE_MUTATION = (
    "mutation call($identifier: ProductSetIdentifiers, $input: ProductSetInput!) { productSet(identifier: "
    "$identifier, input: $input) { product { id handle } userErrors { field message code } } }"
)
DELETE_MUTATION = (
    "mutation call($input: ProductDeleteInput!) { productDelete(input: $input) { deletedProductId "
    "userErrors { field message } } }"
)


async def stage(simulator, content: bytes) -> str:
    """stagedUploadsCreate, then the multipart POST: parameters in order, the file last."""
    data = await simulator.ok(STAGED_UPLOADS_CREATE)
    (target,) = data["stagedUploadsCreate"]["stagedTargets"]
    assert target["url"].startswith(simulator.base_url)
    assert target["resourceUrl"] is None
    form = aiohttp.FormData()
    for parameter in target["parameters"]:
        form.add_field(parameter["name"], parameter["value"])
    form.add_field("file", content, filename="vars.jsonl", content_type="text/jsonl")
    async with simulator.session.post(target["url"], data=form) as response:
        assert response.status == 201, await response.text()
        assert "<PostResponse>" in await response.text()
    return next(parameter["value"] for parameter in target["parameters"] if parameter["name"] == "key")


def jsonl(lines: list[dict]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def product_line(simulator, handle: str, sku: str) -> dict:
    return {"identifier": {"handle": handle}, "input": simulator.product_input(handle, [sku])}


async def download(simulator, url: str) -> list[dict]:
    async with simulator.session.get(url) as response:
        assert response.status == 200
        return [orjson.loads(line) for line in (await response.read()).splitlines()]


async def start_mutation(simulator, mutation: str, path: str) -> dict:
    data = await simulator.ok(RUN_MUTATION, {"mutation": mutation, "path": path})
    return data["bulkOperationRunMutation"]


async def test_bulk_mutation_runs_every_line_and_reports_each_by_line_number(simulator):
    """A sync's writes go through here: every line must run and come back joined by __lineNumber."""
    lines = [product_line(simulator, f"bulk-{index}", f"B-{index}") for index in range(20)]
    lines[7]["input"]["productOptions"][0]["values"] = []  # a business failure: userErrors inside data
    lines.append({"input": {"title": "x", "bogus": 1}})  # a variable failure: the line's own errors
    path = await stage(simulator, jsonl(lines))
    started = await start_mutation(simulator, LINE_MUTATION, path)
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] == "CREATED"
    assert started["bulkOperation"]["type"] == "MUTATION"
    operation = await simulator.wait_bulk(started["bulkOperation"]["id"])
    assert operation["status"] == "COMPLETED"
    assert operation["objectCount"] == "21"
    assert operation["url"].startswith(simulator.base_url)
    results = await download(simulator, operation["url"])
    assert int(operation["fileSize"]) > 0
    by_line = {result["__lineNumber"]: result for result in results}
    assert sorted(by_line) == list(range(21))
    assert by_line[0]["data"]["productSet"]["product"]["handle"] == "bulk-0"
    assert by_line[7]["data"]["productSet"]["userErrors"][0]["code"] == "OPTION_VALUES_MISSING"
    assert by_line[20]["errors"][0]["extensions"]["problems"][0]["path"] == ["bogus"]
    data = await simulator.ok("{ products(first: 50) { nodes { id } } }")
    assert len(data["products"]["nodes"]) == 19
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["mutations"]["productSet"] == 20
    assert stats["bulk_operations"] == {"MUTATION": 1, "QUERY": 0}
    assert stats["bulk_lines"] == 21


async def test_bulk_delete_lines(simulator):
    """productDelete runs in bulk too, for products that left the feed."""
    payload = await simulator.product_set(simulator.product_input("old", ["O-1"]), {"handle": "old"})
    path = await stage(simulator, jsonl([{"input": {"id": payload["product"]["id"]}}]))
    started = await start_mutation(simulator, DELETE_MUTATION, path)
    operation = await simulator.wait_bulk(started["bulkOperation"]["id"])
    (result,) = await download(simulator, operation["url"])
    assert result == {
        "data": {"productDelete": {"deletedProductId": payload["product"]["id"], "userErrors": []}},
        "__lineNumber": 0,
    }


async def test_bulk_mutation_refusals_use_documented_codes(simulator):
    """A wrong path, a wrong mutation and a bulk mutation inside bulk are refused before anything runs."""
    no_file = await start_mutation(simulator, LINE_MUTATION, "tmp/1/bulk/nothing/bulk_op_vars")
    assert no_file["userErrors"][0]["code"] == "NO_SUCH_FILE"
    assert no_file["bulkOperation"] is None
    path = await stage(simulator, b'{"input": {"id": "gid://shopify/Product/1"}}\n')
    invalid = await start_mutation(simulator, "mutation { productSet { nope } }", path)
    assert invalid["userErrors"][0]["code"] == "INVALID_MUTATION"
    nested = await start_mutation(
        simulator,
        'mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }") { userErrors { field } } }',
        path,
    )
    assert nested["userErrors"][0]["code"] == "INVALID_MUTATION"


async def test_upload_over_the_limit_is_refused_by_the_storage(start_simulator, simulator_options):
    """The 100 MB cap (here lowered) answers the storage's EntityTooLarge, so a client splits its files."""
    small = await start_simulator(dataclasses.replace(simulator_options, max_upload_bytes=100))
    data = await small.ok(STAGED_UPLOADS_CREATE)
    (target,) = data["stagedUploadsCreate"]["stagedTargets"]
    form = aiohttp.FormData()
    for parameter in target["parameters"]:
        form.add_field(parameter["name"], parameter["value"])
    form.add_field("file", b"x" * 101, filename="vars.jsonl", content_type="text/jsonl")
    async with small.session.post(target["url"], data=form) as response:
        assert response.status == 400
        assert "<Code>EntityTooLarge</Code>" in await response.text()


async def test_file_must_be_the_last_form_field(simulator):
    """Shopify's targets refuse a form whose file is not last; a client must send parameters first."""
    data = await simulator.ok(STAGED_UPLOADS_CREATE)
    (target,) = data["stagedUploadsCreate"]["stagedTargets"]
    form = aiohttp.FormData()
    form.add_field("file", b"{}\n", filename="vars.jsonl", content_type="text/jsonl")
    for parameter in target["parameters"]:
        form.add_field(parameter["name"], parameter["value"])
    async with simulator.session.post(target["url"], data=form) as response:
        assert response.status == 400


async def test_concurrency_limit_five_from_2026_01_one_before(start_simulator, simulator_options):
    """A sixth concurrent operation (or a second before 2026-01) is refused with a retry-later code."""
    slow = await start_simulator(dataclasses.replace(simulator_options, bulk_rate=1.0))
    path = await stage(slow, jsonl([product_line(slow, f"c{index}", f"C{index}") for index in range(50)]))
    ids = []
    for _ in range(5):
        started = await start_mutation(slow, LINE_MUTATION, path)
        assert started["userErrors"] == []
        ids.append(started["bulkOperation"]["id"])
    sixth = await start_mutation(slow, LINE_MUTATION, path)
    assert sixth["userErrors"][0]["code"] == "LIMIT_REACHED"
    older = await slow.graphql(RUN_MUTATION, {"mutation": LINE_MUTATION, "path": path}, version="2025-10")
    assert older.data["bulkOperationRunMutation"]["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    listed = await slow.ok(
        '{ bulkOperations(first: 10, query: "status:running operation_type:mutation") { nodes { id } } }'
    )
    assert len(listed["bulkOperations"]["nodes"]) == 5
    cancel = "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } userErrors { message } } }"
    for operation_id in ids:
        canceled = await slow.ok(cancel, {"id": operation_id})
        assert canceled["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELING"
    for operation_id in ids:
        assert (await slow.wait_bulk(operation_id))["status"] == "CANCELED"


async def test_bulk_failure_after_k_lines_leaves_partial_data(simulator):
    """An operation failing mid-way must report FAILED, INTERNAL_SERVER_ERROR and the lines that ran."""
    await simulator.admin("POST", "/_simulator/faults", {"fail_bulk_after_lines": 3})
    path = await stage(
        simulator, jsonl([product_line(simulator, f"f{index}", f"F{index}") for index in range(10)])
    )
    started = await start_mutation(simulator, LINE_MUTATION, path)
    operation = await simulator.wait_bulk(started["bulkOperation"]["id"])
    assert operation["status"] == "FAILED"
    assert operation["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert operation["url"] is None
    partial = await download(simulator, operation["partialDataUrl"])
    assert len(partial) == 3


async def test_injected_sku_error_appears_as_user_error(simulator):
    """A chosen SKU fails with a userError so a client's per-SKU failure reporting can be tested."""
    await simulator.admin("POST", "/_simulator/faults", {"sku_errors": {"BAD-1": "Rejected by test"}})
    path = await stage(
        simulator, jsonl([product_line(simulator, "ok", "OK-1"), product_line(simulator, "bad", "BAD-1")])
    )
    started = await start_mutation(simulator, LINE_MUTATION, path)
    operation = await simulator.wait_bulk(started["bulkOperation"]["id"])
    by_line = {line["__lineNumber"]: line for line in await download(simulator, operation["url"])}
    assert by_line[0]["data"]["productSet"]["userErrors"] == []
    assert by_line[1]["data"]["productSet"]["userErrors"][0]["message"] == "Rejected by test"


async def test_bulk_query_exports_products_and_variants_with_parent_ids(simulator):
    """The adoption export: one node per line, variants carrying __parentId of their product."""
    for index in range(3):
        await simulator.product_set(
            simulator.product_input(f"e{index}", [f"E{index}a", f"E{index}b"]), {"handle": f"e{index}"}
        )
    query = """{ products(query: "status:active,draft,archived,unlisted") { edges { node {
        handle status
        metafields { edges { node { namespace key value } } }
        variants { edges { node { id sku selectedOptions { name value } inventoryItem { id } } } } } } } }"""
    data = await simulator.ok(RUN_QUERY, {"query": query})
    started = data["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    operation = await simulator.wait_bulk(started["bulkOperation"]["id"])
    assert operation["status"] == "COMPLETED"
    assert operation["objectCount"] == "9"
    assert operation["rootObjectCount"] == "3"
    lines = await download(simulator, operation["url"])
    products = [line for line in lines if "__parentId" not in line]
    assert [product["handle"] for product in products] == ["e0", "e1", "e2"]
    assert "id" not in products[0]
    variants = [line for line in lines if "__parentId" in line]
    assert {variant["sku"] for variant in variants} == {"E0a", "E0b", "E1a", "E1b", "E2a", "E2b"}
    assert all(variant["__parentId"].startswith("gid://shopify/Product/") for variant in variants)
    assert "inventoryItem" in variants[0]


async def test_bulk_query_restrictions(simulator):
    """Queries breaking the documented bulk rules are refused with INVALID."""
    no_connection = await simulator.ok(RUN_QUERY, {"query": "{ shop { name } }"})
    assert no_connection["bulkOperationRunQuery"]["userErrors"][0]["code"] == "INVALID"
    export = """{ products { edges { node { variants { edges { node {
        metafields { edges { node { id } } } } } } } } } }"""
    allowed = await simulator.ok(RUN_QUERY, {"query": export})
    assert allowed["bulkOperationRunQuery"]["userErrors"] == []
    too_deep = """{ products { edges { node { variants { edges { node { inventoryItem {
        inventoryLevels { edges { node { location { inventoryLevels { edges { node { id } } } } } } } } } } } } } } }"""
    refused = await simulator.ok(RUN_QUERY, {"query": too_deep})
    assert refused["bulkOperationRunQuery"]["userErrors"][0]["code"] == "INVALID"
    top_node = await simulator.ok(RUN_QUERY, {"query": '{ node(id: "gid://shopify/Product/1") { id } }'})
    assert top_node["bulkOperationRunQuery"]["userErrors"][0]["code"] == "INVALID"
