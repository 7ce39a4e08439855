"""`python -m devstack run` (what `make run` starts) and `stop`, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialogkit.topics import SERVICES
from tests.support import AUTH, eventually, service_port_env


def start_platform(tmp_path: Path, **settings: str) -> tuple[psutil.Process, dict[str, str], Path]:
    env = {
        **os.environ,
        **service_port_env(),
        "DIALOG_STATE_DIR": str(tmp_path / "state"),
        "DIALOG_BROKER_PORT": str(free_port()),
        "DIALOG_POSTGRES_PORT": str(free_port()),
        **settings,
    }
    output = tmp_path / "run.out"
    child = spawn("run", [sys.executable, "-m", "devstack", "run"], output, env=env)
    wait_until(
        lambda: "Ctrl-C or `make stop`" in output.read_text(),
        timeout=180,
        what="make run",
        child=child,
        interval=0.25,
    )
    return psutil.Process(child.pid), env, output


def api_process(runner: psutil.Process, service: str) -> psutil.Process:
    """The running `python -m <service> api` that `make run` started."""
    [found] = [
        p for p in runner.children() if p.cmdline()[-2:] == [service, "api"] and p.is_running()
    ]
    return found


API_METRICS = {"dialog_http_requests", "dialog_http_request_duration_seconds"}
WORKER_METRICS = {
    "dialog_events_consumed",
    "dialog_events_produced",
    "dialog_dead_letters",
    "dialog_projection_lag_records",
    "dialog_projection_freshness_seconds",
}


def metrics_pages_carry_the_platforms_metrics(env: dict[str, str], service: str) -> None:
    """/metrics of the service's API and worker parse as Prometheus text and carry its metrics."""
    prefix = service.upper()
    for port, expected in (
        (env[f"{prefix}_HTTP_PORT"], API_METRICS),
        (env[f"{prefix}_WORKER_WEB_PORT"], WORKER_METRICS),
    ):
        page = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert page.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(page.text)}
        assert expected <= set(families), (service, port, expected - set(families))
        if expected is WORKER_METRICS:  # one row per projection and partition of its source
            assert families["dialog_projection_lag_records"].samples, service


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stop_platform(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devstack", "stop"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


async def round_trip(api: str, customer: str) -> list[str]:
    body = {
        "customer_id": customer,
        "touchpoint_id": "call-1",
        "channel": "phone",
        "direction": "inbound",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        assert (await client.post("/v1/touchpoints", json=body)).status_code == 202

        async def entries() -> list[str]:
            page = (await client.get(f"/v1/customers/{customer}/timeline")).json()
            return [e["source_ref"] for e in page["entries"]]

        return await eventually(entries, lambda found: found == ["call-1"], timeout=60)


async def test_the_embedded_platform_starts_serves_and_stops_without_leftovers(
    tmp_path: Path,
) -> None:
    runner, env, output = start_platform(tmp_path)
    processes = runner.children(recursive=True)
    text = output.read_text()
    assert "platform starts empty" in text
    for service in ("consent", "contacts", "interactions", "campaigns"):
        port = env[f"{service.upper()}_HTTP_PORT"]
        assert f"http://127.0.0.1:{port}/docs" in text
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        worker = env[f"{service.upper()}_WORKER_WEB_PORT"]
        assert httpx.get(f"http://127.0.0.1:{worker}/readyz").status_code == 200

    api = f"http://127.0.0.1:{env['INTERACTIONS_HTTP_PORT']}"
    assert await round_trip(api, "walking-skeleton") == ["call-1"]
    for service in SERVICES:
        metrics_pages_carry_the_platforms_metrics(env, service)
    faust = tmp_path / "state" / "faust"
    assert sorted(p.name for p in faust.iterdir()) == sorted(SERVICES)

    crashed = api_process(runner, "interactions")
    crashed.kill()  # a crashed API comes back; the platform keeps running
    wait_until(
        lambda: "interactions-api restarted" in output.read_text(),
        timeout=30,
        what="restart",
    )
    assert "interactions-api exited with code -9 (SIGKILL)" in output.read_text()
    wait_until(lambda: ready(f"{api}/readyz"), timeout=60, what="restarted interactions-api")
    assert api_process(runner, "interactions").pid != crashed.pid
    processes = runner.children(recursive=True)

    assert stop_platform(env).strip() == "stopped"
    assert len(processes) >= 10  # broker, postgres and its helpers, 4 APIs, 4 workers
    assert gone(runner)
    assert [p.pid for p in processes if not gone(p)] == []
    assert not (tmp_path / "state" / "stack.pid").exists()


async def test_with_an_existing_kafka_and_postgres_nothing_is_reset(
    tmp_path: Path, platform_topics_ready: str, postgres_admin_dsn: str
) -> None:
    from dialogkit.db import ensure_database, migrate

    dsn = database_dsn(postgres_admin_dsn, "dialog_interactions")
    await ensure_database(postgres_admin_dsn, "dialog_interactions")
    await migrate(dsn, "interactions")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO timeline_entries (customer_id, entry_id, occurred_at, kind, source,"
            " correlation_id) VALUES ('kept', gen_random_uuid(), now(), 'Note', '/test',"
            " gen_random_uuid())"
        )
    finally:
        await connection.close()

    runner, env, output = start_platform(
        tmp_path,
        DIALOG_KAFKA_BOOTSTRAP=platform_topics_ready,
        DIALOG_DATABASE_URL=postgres_admin_dsn,
    )
    try:
        assert "platform starts empty" not in output.read_text()
        api = f"http://127.0.0.1:{env['INTERACTIONS_HTTP_PORT']}"
        assert await round_trip(api, f"existing-{free_port()}") == ["call-1"]
        kept = httpx.get(f"{api}/v1/customers/kept/timeline", headers=AUTH).json()
        assert len(kept["entries"]) == 1
        assert not (tmp_path / "state" / "postgres").exists()
    finally:
        stop_platform(env)
    assert gone(runner)
