"""Admin endpoints (stats, faults, reset), the client credentials grant, and --state persistence."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from click.testing import CliRunner

from shopify_simulator.command import simulator_command


async def test_stats_count_requests_mutations_and_cost(simulator):
    """Tests assert on what a client did through these counters."""
    await simulator.product_set({"title": "Counted"})
    await simulator.graphql("{ shop { name } }")
    stats = await simulator.admin("GET", "/_simulator/stats")
    assert stats["requests"] == 2
    assert stats["mutations"] == {"productSet": 1}
    assert stats["bulk_operations"] == {"MUTATION": 0, "QUERY": 0}
    assert stats["cost_spent"] == 11.0


async def test_fail_next_requests_with_status(simulator):
    """A client's retry of 5xx and 429 answers can be tested by failing the next requests."""
    await simulator.admin("POST", "/_simulator/faults", {"fail_requests": 2, "status": 503})
    assert (await simulator.graphql("{ shop { name } }")).status == 503
    assert (await simulator.graphql("{ shop { name } }")).status == 503
    assert (await simulator.graphql("{ shop { name } }")).status == 200
    await simulator.admin("POST", "/_simulator/faults", {"fail_requests": 1, "status": 429})
    throttled = await simulator.graphql("{ shop { name } }")
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "1.0"


async def test_dropped_connection(simulator):
    """A client must survive the connection closing under it; the next request works."""
    await simulator.admin("POST", "/_simulator/faults", {"drop_connections": 1})
    with pytest.raises(aiohttp.ClientError):
        await simulator.graphql("{ shop { name } }")
    assert (await simulator.graphql("{ shop { name } }")).status == 200


async def test_latency_and_bad_fault_keys(simulator):
    """Latency is applied; an unknown fault key is refused so a typo in a test does not pass silently."""
    faults = await simulator.admin("POST", "/_simulator/faults", {"latency_ms": 50})
    assert faults["latency_ms"] == 50
    async with simulator.session.post(simulator.url("/_simulator/faults"), json={"nonsense": 1}) as response:
        assert response.status == 400


async def test_reset_empties_the_shop(simulator):
    """Reset gives a fresh shop between scenarios."""
    await simulator.product_set({"title": "Gone after reset"})
    await simulator.admin("POST", "/_simulator/reset")
    assert (await simulator.ok("{ products(first: 5) { nodes { id } } }"))["products"]["nodes"] == []
    assert (await simulator.admin("GET", "/_simulator/stats"))["requests"] == 1


async def test_admin_is_off_unless_enabled(start_simulator, simulator_options):
    """Without --admin nobody can inject faults or reset the shop."""
    plain = await start_simulator(dataclasses.replace(simulator_options, admin=False))
    async with plain.session.get(plain.url("/_simulator/stats")) as response:
        assert response.status == 404


async def test_client_credentials_grant_and_expiry(start_simulator, simulator_options):
    """Dev Dashboard apps get a token from client_id/secret; an expired one is refused with 401."""
    short = await start_simulator(dataclasses.replace(simulator_options, granted_token_lifetime=0.3))
    form = {"grant_type": "client_credentials", "client_id": "client-id", "client_secret": "client-secret"}
    async with short.session.post(short.url("/admin/oauth/access_token"), data=form) as response:
        assert response.status == 200
        grant = await response.json()
    assert set(grant) == {"access_token", "scope", "expires_in"}
    assert (await short.graphql("{ shop { name } }", token=grant["access_token"])).status == 200
    import asyncio

    await asyncio.sleep(0.35)
    assert (await short.graphql("{ shop { name } }", token=grant["access_token"])).status == 401
    wrong = {**form, "client_secret": "nope"}
    async with short.session.post(short.url("/admin/oauth/access_token"), data=wrong) as response:
        assert response.status == 400


async def test_state_survives_a_restart(start_simulator, simulator_options, tmp_path):
    """With --state a demo can be stopped and started without losing its products."""
    options = dataclasses.replace(simulator_options, state_file=tmp_path / "shop.json")
    first = await start_simulator(options)
    created = await first.product_set(first.product_input("kept", ["K-1"]), {"handle": "kept"})
    await first.session.close()
    await first.server.close()
    assert options.state_file.exists()
    second = await start_simulator(options)
    data = await second.ok('{ products(first: 5, query: "sku:K-1") { nodes { id handle } } }')
    assert data["products"]["nodes"] == [{"id": created["product"]["id"], "handle": "kept"}]
    again = await second.product_set({"title": "New"})
    assert again["product"]["id"] != created["product"]["id"]


def test_command_help_lists_the_documented_options():
    """The CLI a user types must offer the documented flags."""
    result = CliRunner().invoke(simulator_command, ["--help"])
    assert result.exit_code == 0
    for flag in (
        "--port",
        "--access-token",
        "--client-id",
        "--client-secret",
        "--plan",
        "--bulk-rate",
        "--state",
        "--admin",
    ):
        assert flag in result.output
