"""A touchpoint posted to the API becomes an event, a timeline entry, and an API answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support import AUTH, Service, eventually, service_process, service_processes


@pytest.fixture
async def interactions_dsn(new_database) -> str:
    return await new_database("interactions")


@pytest.fixture
def interactions(
    platform_topics_ready: str, interactions_dsn: str, tmp_path: Path, data_keys_env: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """The interactions API and worker as separate processes; yields their base URLs."""
    dsn, env = interactions_dsn, data_keys_env
    with service_processes(
        platform_topics_ready,
        Service("interactions", "worker", dsn, tmp_path / "worker.log", env),
        Service("interactions", "api", dsn, tmp_path / "api.log", env),
    ) as (worker, api):
        yield api, worker


def touchpoint(customer: str, number: int, at: datetime) -> dict[str, str]:
    return {
        "customer_id": customer,
        "touchpoint_id": f"tp-{number}",
        "channel": ["phone", "email", "letter", "sms", "social"][number % 5],
        "direction": "outbound" if number % 2 else "inbound",
        "occurred_at": at.isoformat(),
        "summary": f"touchpoint {number}",
    }


async def timeline(api: str, customer: str, **params: str) -> dict:  # type: ignore[type-arg]
    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        response = await client.get(f"/v1/customers/{customer}/timeline", params=params)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


async def test_a_posted_touchpoint_shows_in_the_customers_timeline(
    interactions: tuple[str, str], customer_id: str
) -> None:
    api, worker = interactions
    at = datetime.now(UTC) - timedelta(minutes=1)
    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        response = await client.post("/v1/touchpoints", json=touchpoint(customer_id, 1, at))
        assert response.status_code == 202
        event_id = response.json()["event_id"]
        # the email provider retries its webhook: still one entry
        assert (await client.post("/v1/touchpoints", json=touchpoint(customer_id, 1, at))).json()[
            "event_id"
        ] == event_id

    page = await eventually(
        lambda: timeline(api, customer_id), lambda p: len(p["entries"]) >= 1, timeout=60
    )
    [entry] = page["entries"]
    assert entry["entry_id"] == event_id
    assert (entry["channel"], entry["direction"], entry["source_ref"]) == (
        "email",
        "outbound",
        "tp-1",
    )
    assert datetime.fromisoformat(entry["occurred_at"]) == at
    async with httpx.AsyncClient() as client:
        ready = (await client.get(f"{worker}/readyz")).json()
    assert ready["checks"]["partitions_assigned"] is True


async def test_pagination_walks_the_whole_timeline_newest_first(
    interactions: tuple[str, str], customer_id: str
) -> None:
    api, _ = interactions
    start = datetime(2026, 10, 1, 8, tzinfo=UTC)
    posted = [touchpoint(customer_id, n, start + timedelta(hours=n)) for n in range(23)]
    async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
        for body in posted:
            assert (await client.post("/v1/touchpoints", json=body)).status_code == 202
    await eventually(
        lambda: timeline(api, customer_id, limit="100"),
        lambda p: len(p["entries"]) == len(posted),
        timeout=60,
    )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
        page = await timeline(api, customer_id, **params)
        seen += [e["source_ref"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"tp-{n}" for n in reversed(range(23))]


async def test_the_worker_resumes_from_the_positions_the_database_holds(
    platform_topics_ready: str,
    interactions_dsn: str,
    tmp_path: Path,
    customer_id: str,
    data_keys_env: dict[str, str],
) -> None:
    """Committed group offsets never outrank the database: a reset read model is rebuilt."""
    common = {
        "bootstrap": platform_topics_ready,
        "dsn": interactions_dsn,
        "extra_env": data_keys_env,
    }
    at = datetime.now(UTC) - timedelta(hours=1)
    with service_process("interactions", "api", logs=tmp_path / "api.log", **common) as (_, api):
        with service_process("interactions", "worker", logs=tmp_path / "w1.log", **common):
            async with httpx.AsyncClient(base_url=api, headers=AUTH) as client:
                for n in range(3):
                    await client.post("/v1/touchpoints", json=touchpoint(customer_id, n, at))
            await eventually(lambda: timeline(api, customer_id), lambda p: len(p["entries"]) == 3)
        connection = await asyncpg.connect(interactions_dsn)
        try:  # the read model is lost while the group's offsets stay committed
            await connection.execute("TRUNCATE timeline_entries, projection_positions")
        finally:
            await connection.close()
        with service_process("interactions", "worker", logs=tmp_path / "w2.log", **common):
            page = await eventually(
                lambda: timeline(api, customer_id), lambda p: len(p["entries"]) == 3
            )
    assert sorted(e["source_ref"] for e in page["entries"]) == ["tp-0", "tp-1", "tp-2"]
