"""The simulator holds every request to Shopify's real 2026-10 schema and answers Shopify's error shapes."""

from __future__ import annotations

import aiohttp

from shopify_simulator.schema import SCHEMA_PATH, load_schema

COUNT_PRODUCTS = "{ products(first: 250) { nodes { id } } }"


def test_committed_schema_is_the_real_description_free_schema():
    """If the committed SDL were an imitation or kept its prose, checks would drift from Shopify's or bloat."""
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert '"""' not in text
    assert SCHEMA_PATH.stat().st_size < 1_500_000
    schema = load_schema()
    assert "productSet" in schema.mutation_type.fields
    assert schema.get_type("ProductSetIdentifiers").is_one_of


async def test_unknown_field_is_refused_with_graphql_ruby_shape(simulator):
    """A typo in a document would otherwise be silently accepted and return nothing useful."""
    reply = await simulator.graphql("{ shop { name nonsense } }")
    assert reply.status == 200
    assert "data" not in reply.body
    (error,) = reply.body["errors"]
    assert error["message"] == "Field 'nonsense' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"
    assert error["locations"] == [{"line": 1, "column": 15}]


async def test_wrong_argument_type_is_refused(simulator):
    """A client passing a string where Shopify wants an Int must see the refusal it would get from Shopify."""
    reply = await simulator.graphql('{ products(first: "ten") { nodes { id } } }')
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "argumentLiteralsIncompatible"
    assert error["extensions"]["argumentName"] == "first"


async def test_variant_without_option_values_is_a_variable_error_and_nothing_happens(simulator):
    """optionValues is non-null in the schema: leaving it out must fail coercion, not create a product."""
    product_input = {
        "handle": "tee",
        "title": "Tee",
        "productOptions": [{"name": "Size", "values": [{"name": "S"}]}],
        "variants": [{"sku": "TEE-S", "price": "1.00"}],
    }
    reply = await simulator.graphql(
        "mutation call($input: ProductSetInput!) { productSet(input: $input) { product { id } } }",
        {"input": product_input},
    )
    (error,) = reply.body["errors"]
    assert error["message"].startswith("Variable input of type ProductSetInput! was provided invalid value")
    assert error["extensions"]["problems"] == [
        {"path": ["variants", 0, "optionValues"], "explanation": "Expected value to not be null"}
    ]
    assert error["extensions"]["value"] == product_input
    assert (await simulator.ok(COUNT_PRODUCTS))["products"]["nodes"] == []


async def test_undefined_input_field_names_its_type(simulator):
    """The contract's documented shape: an unknown input field says which input type lacks it."""
    reply = await simulator.graphql(
        "mutation call($input: ProductSetInput!) { productSet(input: $input) { product { id } } }",
        {"input": {"title": "x", "myfavoriteaddress": "here"}},
    )
    (error,) = reply.body["errors"]
    assert error["message"] == (
        "Variable input of type ProductSetInput! was provided invalid value for myfavoriteaddress "
        "(Field is not defined on ProductSetInput)"
    )


async def test_valid_but_unsimulated_field_answers_an_error_not_null(simulator):
    """A client relying on a field the simulator lacks must learn it, not read a silent null."""
    reply = await simulator.graphql("{ shop { name billingAddress { city } } }")
    assert reply.status == 200
    messages = [error["message"] for error in reply.body["errors"]]
    assert any("Shop.billingAddress is not simulated" in message for message in messages)


async def test_bad_token_is_401(simulator):
    """A wrong token must be refused as Shopify refuses it, so the client's renew-then-fail path is exercised."""
    reply = await simulator.graphql("{ shop { name } }", token="shpat_wrong")
    assert reply.status == 401
    assert reply.body == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    missing = await simulator.graphql("{ shop { name } }", token=None)
    assert missing.status == 401


async def test_versions_malformed_404_unsupported_served_by_oldest(simulator):
    """Unsupported versions fall back to the oldest supported one; a malformed version is 404."""
    reply = await simulator.graphql("{ shop { name } }", version="banana")
    assert reply.status == 404
    assert reply.body == {"errors": "Not Found"}
    old = await simulator.graphql("{ shop { name } }", version="2019-04")
    assert old.status == 200
    assert old.headers["X-Shopify-API-Version"] == "2025-10"
    current = await simulator.graphql("{ shop { name } }")
    assert current.headers["X-Shopify-API-Version"] == "2026-10"


async def test_unknown_version_can_be_set_to_404(start_simulator, simulator_options):
    """With unsupported_version="404" a client can be tested against the stricter reading."""
    import dataclasses

    strict = await start_simulator(dataclasses.replace(simulator_options, unsupported_version="404"))
    reply = await strict.graphql("{ shop { name } }", version="2019-04")
    assert reply.status == 404


async def test_non_json_body_is_400(simulator):
    """A request without Content-Type: application/json gets Shopify's 400, not a GraphQL answer."""
    async with simulator.session.post(
        simulator.url("/admin/api/2026-10/graphql.json"),
        data="query=1",
        headers={"X-Shopify-Access-Token": "shpat_test_token", "Content-Type": "text/plain"},
    ) as response:
        assert response.status == 400
        assert await response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


async def test_every_response_carries_cost(simulator):
    """Clients pace themselves from extensions.cost; it must be on every GraphQL answer."""
    reply = await simulator.graphql("{ shop { name } }")
    cost = reply.body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1
    assert cost["actualQueryCost"] == 1
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1999.0,
        "restoreRate": 100.0,
    }
    assert isinstance(simulator.session, aiohttp.ClientSession)
