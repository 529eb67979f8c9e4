"""The simulator's product media (productSet `files`) and sales channels (publications)."""

from __future__ import annotations

from typing import Any

from conftest import SimulatorHttp

SET_FILES = """
mutation($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input) {
    product { id media(first: 10) { nodes { id ... on MediaImage { originalSource { url } } } } }
    userErrors { field message code }
  }
}
"""


def upload(name: str) -> dict[str, str]:
    return {"originalSource": f"https://cdn.example.com/{name}.jpg", "contentType": "IMAGE"}


async def set_files(
    simulator: SimulatorHttp, files: list[dict[str, Any]], product_id: str | None = None
) -> Any:
    variables: dict[str, Any] = {"input": {"files": files}}
    if product_id is None:
        variables["input"]["title"] = "Pictured"
    else:
        variables["identifier"] = {"id": product_id}
    return (await simulator.ok(SET_FILES, variables))["productSet"]


async def media_counts(simulator: SimulatorHttp) -> dict[str, int]:
    return dict((await simulator.admin("GET", "/_simulator/stats"))["media"])


async def test_files_by_id_are_kept_and_uploads_replace_what_is_left_out(simulator: SimulatorHttp) -> None:
    """Media sent by id stays the same media; an upload is new media and replaces what the list left out."""
    created = await set_files(simulator, [upload("a"), upload("b")])
    product_id = created["product"]["id"]
    first, second = created["product"]["media"]["nodes"]
    assert await media_counts(simulator) == {"created": 2, "deleted": 0}

    kept = await set_files(simulator, [{"id": first["id"]}, {"id": second["id"]}], product_id)
    assert kept["product"]["media"]["nodes"] == [first, second]
    assert await media_counts(simulator) == {"created": 2, "deleted": 0}

    again = await set_files(simulator, [{"id": first["id"]}, upload("b")], product_id)
    [same, fresh] = again["product"]["media"]["nodes"]
    assert same == first
    assert fresh["id"] != second["id"]
    assert fresh["originalSource"]["url"] == "https://cdn.example.com/b.jpg"
    assert await media_counts(simulator) == {"created": 3, "deleted": 1}


async def test_an_unknown_media_id_is_refused_and_changes_nothing(simulator: SimulatorHttp) -> None:
    """A media id the product does not hold is a userError on that file; no media is made or removed."""
    created = await set_files(simulator, [upload("a")])
    product_id = created["product"]["id"]
    refused = await set_files(simulator, [{"id": "gid://shopify/MediaImage/999"}, upload("c")], product_id)
    assert refused["product"] is None
    [error] = refused["userErrors"]
    assert error["field"] == ["input", "files", "0", "id"]
    assert "does not exist" in error["message"]
    assert await media_counts(simulator) == {"created": 1, "deleted": 0}


async def test_publish_and_unpublish_a_product(simulator: SimulatorHttp) -> None:
    """The shop lists its channels; a product is published on one, then taken off; unknown ids refused."""
    data = await simulator.ok("{ publications(first: 10) { nodes { id name catalog { title } } } }")
    channels = {node["name"]: node["id"] for node in data["publications"]["nodes"]}
    assert list(channels) == ["Online Store", "Point of Sale"]
    product_id = (await simulator.product_set({"title": "Sold"}))["product"]["id"]
    query = "query($id: ID!, $p: ID!) { product(id: $id) { publishedOnPublication(publicationId: $p) } }"
    change = (
        "mutation($id: ID!, $input: [PublicationInput!]!) { NAME(id: $id, input: $input) "
        "{ publishable { ... on Product { id } } userErrors { field message } } }"
    )
    online = {"publicationId": channels["Online Store"]}
    published = await simulator.ok(
        change.replace("NAME", "publishablePublish"), {"id": product_id, "input": [online]}
    )
    assert published["publishablePublish"] == {"publishable": {"id": product_id}, "userErrors": []}
    on = await simulator.ok(query, {"id": product_id, "p": channels["Online Store"]})
    assert on["product"]["publishedOnPublication"] is True
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["published"] == {"Online Store": [product_id], "Point of Sale": []}

    await simulator.ok(change.replace("NAME", "publishableUnpublish"), {"id": product_id, "input": [online]})
    off = await simulator.ok(query, {"id": product_id, "p": channels["Online Store"]})
    assert off["product"]["publishedOnPublication"] is False
    unknown = await simulator.ok(
        change.replace("NAME", "publishablePublish"),
        {"id": product_id, "input": [{"publicationId": "gid://shopify/Publication/99"}]},
    )
    assert unknown["publishablePublish"]["userErrors"][0]["message"] == "Publication does not exist"
