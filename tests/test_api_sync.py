"""The sync API over real HTTP: queue a run, refuse a second, watch runs, status and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from support import API_TOKEN, SIM_TOKEN

from erpsync.api.app import init_app
from erpsync.db.runs import finish_run
from erpsync.settings import Settings, ShopifySettings, SyncSettings

Client = TestClient[Any, Any]


@pytest.fixture(autouse=True)
def empty_queue(clean_redis: Any) -> None:
    """Every test here starts with an empty queue."""


async def test_trigger_queues_once_then_reports_the_queued_run(api: Client, make_config: Any) -> None:
    """POST /sync/{id} answers 202 with a run id; asking again returns the same queued run."""
    await api.post("/configs", json=make_config())
    first = await api.post("/sync/acme-main")
    assert first.status == 202
    body = await first.json()
    assert body["status"] == "queued"
    assert body["created"] is True
    assert first.headers["Location"] == f"/runs/{body['run_id']}"
    again = await (await api.post("/sync/acme-main")).json()
    assert again["run_id"] == body["run_id"]
    assert again["created"] is False
    run = await (await api.get(f"/runs/{body['run_id']}")).json()
    assert run["status"] == "queued"
    assert run["trigger"] == "api"
    status = await (await api.get("/sync/status")).json()
    assert status["queue_depth"] == 1
    (entry,) = status["configs"]
    assert entry["running"] == {"run_id": body["run_id"], "status": "queued"}


async def test_trigger_while_running_is_409_with_the_run(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """While a run is in progress, another trigger is refused with 409 naming it."""
    await api.post("/configs", json=make_config())
    run_id = await db.fetchval(
        "INSERT INTO sync_runs (config_id, status, started_at) VALUES ('acme-main', 'running', now()) RETURNING id"
    )
    response = await api.post("/sync/acme-main")
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "sync_in_progress"
    assert str(run_id) in error["message"]
    assert response.headers["Location"] == f"/runs/{run_id}"


async def test_unknown_config_and_run_are_404(api: Client) -> None:
    """Triggering an unknown config, or reading an unknown run, is 404."""
    assert (await api.post("/sync/nope")).status == 404
    assert (await api.get("/runs/999999")).status == 404
    assert (await api.get("/runs/abc")).status == 404
    assert (await api.get("/configs/nope/runs")).status == 404


async def test_bad_trigger_option_is_422(api: Client, make_config: Any) -> None:
    """A misspelt option is refused, not ignored."""
    await api.post("/configs", json=make_config())
    response = await api.post("/sync/acme-main", params={"dryrun": "true"})
    assert response.status == 422


async def test_config_runs_and_status_show_the_last_outcome(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """A finished run shows in the config's runs, and /sync/status gives its outcome and the next time."""
    await api.post("/configs", json=make_config())
    run_id = (await (await api.post("/sync/acme-main")).json())["run_id"]
    await finish_run(db, run_id, "succeeded", {"created": 3, "updated": 1})
    runs = await (await api.get("/configs/acme-main/runs")).json()
    assert [run["id"] for run in runs] == [run_id]
    assert runs[0]["counts"]["created"] == 3
    (entry,) = (await (await api.get("/sync/status")).json())["configs"]
    assert entry["last_run"]["status"] == "succeeded"
    assert entry["last_run"]["counts"]["created"] == 3
    assert entry["next_run_at"] is not None
    assert entry["running"] is None


async def test_metrics_are_prometheus_text(
    api: Client, make_config: Any, db: asyncpg.Connection[Any]
) -> None:
    """/metrics answers the Prometheus text format with queue depth and last success per config."""
    await api.post("/configs", json=make_config())
    run_id = (await (await api.post("/sync/acme-main")).json())["run_id"]
    await finish_run(db, run_id, "succeeded", {})
    response = await api.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert "erpsync_queue_depth 1.0" in text  # the job queued above, with no worker running here
    assert 'erpsync_last_success_timestamp_seconds{config_id="acme-main"}' in text
    assert "# TYPE erpsync_runs_total counter" in text
    assert "# TYPE erpsync_bulk_operation_seconds histogram" in text
    assert 'erpsync_runs_active{status="queued"} 0.0' in text
    assert "process_resident_memory_bytes" in text
    assert "python_info" in text


async def test_shopify_cost_and_throttling_are_counted_by_shop() -> None:
    from erpsync.metrics import REGISTRY
    from erpsync.shopify.throttle import Throttle

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"shop": "metered.myshopify.com"}) or 0.0

    before = sample("erpsync_shopify_cost_total"), sample("erpsync_shopify_throttled_total")
    throttle = Throttle(shop="metered.myshopify.com")
    throttle.observe(
        {
            "actualQueryCost": 12,
            "throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 1988, "restoreRate": 100},
        }
    )
    throttle.throttled_delay(50)
    assert (sample("erpsync_shopify_cost_total"), sample("erpsync_shopify_throttled_total")) == (
        before[0] + 12,
        before[1] + 1,
    )


def test_runs_are_counted_by_config_and_timed_by_stage() -> None:
    from erpsync.metrics import REGISTRY, observe_run
    from erpsync.run_result import SyncResult

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = sample("erpsync_runs_total", {"config_id": "metered", "outcome": "failed"})
    fetch_before = sample("erpsync_run_stage_seconds_count", {"stage": "fetch"})
    counts = {"created": 2, "seconds": {"fetch": 1.5, "plan": 0.25, "publish": 40.0}}
    observe_run("metered", SyncResult(7, "failed", counts))
    assert sample("erpsync_runs_total", {"config_id": "metered", "outcome": "failed"}) == before + 1
    assert sample("erpsync_products_total", {"config_id": "metered", "action": "created"}) >= 2
    assert sample("erpsync_run_stage_seconds_count", {"stage": "fetch"}) == fetch_before + 1
    assert sample("erpsync_run_stage_seconds_bucket", {"stage": "total", "le": "60.0"}) >= 1


async def test_dry_run_returns_the_plan(
    settings: Settings, db: asyncpg.Connection[Any], start_shopify: Any, tmp_path: Path
) -> None:
    """POST /sync/{id}?dry_run=true answers the plan at once and writes nothing."""
    simulator = await start_shopify()
    feed = tmp_path / "feed.csv"
    feed.write_text("sku,title,price\nA,Alpha,1.00\nB,Beta,2.00\n")
    configured = settings.model_copy(
        update={
            "shopify": ShopifySettings(
                shop="acme.myshopify.com",
                base_url=simulator.base_url,
                access_token=SecretStr(SIM_TOKEN),
                poll_interval=0.02,
            ),
            "sync": SyncSettings(work_dir=tmp_path / "work", file_root=tmp_path),
        }
    )
    async with TestClient(
        TestServer(init_app(configured), host="127.0.0.1"), headers={"Authorization": f"Bearer {API_TOKEN}"}
    ) as client:
        body = {
            "id": "files",
            "name": "Files",
            "connection_type": "file",
            "credentials": {"filePath": str(feed)},
            "format": "csv",
            "mapping": {"title": "title", "variant.sku": "sku", "variant.price": "price"},
        }
        assert (await client.post("/configs", json=body)).status == 201
        response = await client.post("/sync/files", params={"dry_run": "true"})
        assert response.status == 200
        plan = await response.json()
        assert plan["status"] == "dry_run"
        assert plan["plan"]["create"] == 2
        assert [item["product_key"] for item in plan["details"]["products"]["create"]] == ["A", "B"]
    assert await db.fetchval("SELECT count(*) FROM sync_runs") == 0
    assert (await simulator.stats())["mutations"].get("productSet", 0) == 0


async def test_huge_run_id_is_404(api: Client) -> None:
    """A run id beyond PostgreSQL's bigint is simply not found, not a server error."""
    assert (await api.get("/runs/-55182269038077719609344")).status == 404
    assert (await api.get("/runs/99999999999999999999999")).status == 404
    response = await api.get("/logs", params={"before": str(2**70)})
    assert response.status == 422


async def test_dry_run_beside_a_queued_sync(api: Client, make_config: Any) -> None:
    """A dry run may look while a real sync waits in the queue; with no shop configured it says so."""
    await api.post("/configs", json=make_config())
    assert (await api.post("/sync/acme-main")).status == 202
    response = await api.post("/sync/acme-main", params={"dry_run": "true"})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "dry_run_failed"
    assert "access_token" in error["message"]


async def test_trigger_with_redis_down_answers_202_and_the_run_starts_when_it_is_back(
    settings: Settings, db: asyncpg.Connection[Any], make_config: Any, clean_redis: Any
) -> None:
    """Redis unreachable: the run is stored queued in PostgreSQL, so the answer is 202 with its id
    and a warning (it was a 500 `internal error`); once Redis answers, the scheduler queues its job."""
    import socket

    from erpsync.db.pool import create_pool
    from erpsync.jobs import job_id
    from erpsync.scheduler import Scheduler
    from erpsync.settings import DatabaseSettings, RedisSettings

    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        down = settings.model_copy(
            update={"redis": RedisSettings(url=f"redis://127.0.0.1:{nobody.getsockname()[1]}/0")}
        )
        server = TestServer(init_app(down), host="127.0.0.1")
        client: Client = TestClient(server, headers={"Authorization": f"Bearer {API_TOKEN}"})
        await client.start_server()
        try:
            assert (await client.post("/configs", json=make_config())).status == 201
            response = await client.post("/sync/acme-main")
            assert response.status == 202, await response.text()
            body = await response.json()
            assert body["warning"].startswith("Redis is unreachable: the run is kept queued in PostgreSQL")
            again = await (await client.post("/sync/acme-main")).json()
            assert (again["run_id"], again["created"]) == (body["run_id"], False)
        finally:
            await client.close()
    assert await db.fetchval("SELECT status FROM sync_runs WHERE id = $1", body["run_id"]) == "queued"
    await db.execute("UPDATE sync_runs SET queued_at = now() - interval '1 minute'")  # Redis was away a while
    pool = await create_pool(DatabaseSettings(url=settings.database.url, max_connections=3))
    scheduler = Scheduler(pool, clean_redis)
    try:
        await scheduler.reconcile()
        assert await clean_redis.exists(f"arq:job:{job_id('acme-main')}")
        assert await db.fetchval("SELECT count(*) FROM sync_runs") == 1
    finally:
        await scheduler.stop()
        await pool.close()


def test_the_example_alert_rules_name_only_metrics_erpsync_exports() -> None:
    """systemd/erpsync-alerts.yml parses, and every erpsync_/process_ metric an alert reads exists."""
    import re

    import yaml

    from erpsync.metrics import REGISTRY

    rules = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "systemd" / "erpsync-alerts.yml").read_text()
    )
    families = list(REGISTRY.collect())
    exported = {sample.name for family in families for sample in family.samples}
    exported |= {family.name + ("_total" if family.type == "counter" else "") for family in families}
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {
        "ErpsyncRunFailed",
        "ErpsyncNoRecentSuccess",
        "ErpsyncQueueBacklog",
    }
    for rule in alerts:
        for name in re.findall(r"\b((?:erpsync|process)_[a-z_]+)", rule["expr"]):
            assert name in exported, (rule["alert"], name)
