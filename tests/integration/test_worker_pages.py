"""A worker's web pages: probes and metrics for anyone, customer data only with a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support import service_process, token

CUSTOMER_DATA = "/tables/consent-state/c-1"
FAUST_VIEWS = ("/router/", "/table/consent-state/", "/graph/", "/stats/", "/assignments/")


async def test_pages_with_customer_data_refuse_anonymous_requests(
    platform_topics_ready: str, new_database: Any, tmp_path: Path
) -> None:
    dsn = await new_database("consent")
    with service_process(
        "consent", "worker", bootstrap=platform_topics_ready, dsn=dsn, logs=tmp_path / "w.log"
    ) as (_, web):
        async with httpx.AsyncClient(base_url=web) as client:
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200, path

            anonymous = await client.get(CUSTOMER_DATA)
            assert anonymous.status_code == 401
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            assert anonymous.json()["title"] == "Unauthorized"
            assert "c-1" not in anonymous.text
            forged = await client.get(CUSTOMER_DATA, headers={"Authorization": "Bearer x.y.z"})
            assert forged.status_code == 401
            writer = await client.get(CUSTOMER_DATA, headers=token("consent:write"))
            assert writer.status_code == 403
            reader = await client.get(CUSTOMER_DATA, headers=token("consent:read"))
            assert reader.status_code == 404  # allowed in; nothing recorded for c-1

            for path in FAUST_VIEWS:  # faust's own table and router views are not served
                response = await client.get(path)
                assert response.status_code == 404, (path, response.text)
