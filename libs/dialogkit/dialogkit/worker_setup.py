"""What a stream worker is made of before it runs: faust's settings, its pool and publisher."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mode import Service

from dialogkit import faust_transport
from dialogkit.config import ServiceSettings
from dialogkit.db import create_pool
from dialogkit.deadletters import DeadLetters
from dialogkit.kafka_security import faust_credentials, kafka_client_options
from dialogkit.publishing import KafkaPublisher
from dialogkit.topics import dead_letter_topic


def faust_settings(service: str, settings: ServiceSettings) -> dict[str, Any]:
    """faust settings tuned so a fresh worker handles its first event within seconds."""
    brokers = ";".join(b.strip() for b in settings.kafka_bootstrap.split(","))
    return {
        "id": f"{service}-worker",
        "broker": f"{faust_transport.SCHEME}://{brokers}",
        "broker_credentials": faust_credentials(settings),
        "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
        "store": "memory://",
        "TableManager": faust_transport.TableManager,
        # faust wants a data folder even when its tables live in memory
        "datadir": str(worker_data_dir(service, settings)),
        "autodiscover": False,
        # The defaults wait for the stream to drain and for a 60 s rebalance window before the
        # first event; these bring a fresh worker's first event down to a few seconds.
        "stream_wait_empty": False,
        "broker_rebalance_timeout": 5,
        "broker_session_timeout": settings.consumer_session_timeout_s,
        "broker_heartbeat_interval": settings.consumer_heartbeat_interval_s,
        "broker_commit_interval": 1.0,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "web_enabled": True,
        # faust's own pages show tables, partitions and internals to anyone: all off. The worker
        # serves /healthz, /readyz and /metrics openly and its tables only with a token.
        "web_router_enabled": False,
        "web_tables_enabled": False,
        "web_graph_enabled": False,
        "web_stats_enabled": False,
        "web_metrics_enabled": False,
        "web_bind": settings.http_host,
        "web_host": settings.http_host,
        "web_port": settings.worker_web_port,
    }


def worker_data_dir(service: str, settings: ServiceSettings) -> Path:
    """faust's data folder: `worker_data_dir` when set (`make run` puts it under its state
    folder, so two platforms on one machine do not share it), else one in the temp folder."""
    if settings.worker_data_dir is not None:
        return settings.worker_data_dir.absolute()
    return Path(tempfile.gettempdir()) / f"dialog-{service}-worker"


class WorkerResources(Service):
    """The worker's pool and publisher, opened before the app starts and closed after it."""

    def __init__(self, service: str, settings: ServiceSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.settings = settings
        self.pool: Any = None
        self.publisher = KafkaPublisher(
            settings.kafka_bootstrap,
            client_id=f"{service}-worker",
            idempotent=settings.kafka_idempotent_producer,
            timeout_s=settings.publish_timeout_s,
            security=kafka_client_options(settings),
            signers=settings.topic_signers(),
        )

    async def on_start(self) -> None:
        self.pool = await create_pool(
            self.settings.database_url, max_size=self.settings.database_pool_max
        )
        await self.publisher.start()

    async def on_stop(self) -> None:
        await self.publisher.stop()
        if self.pool is not None:
            await self.pool.close()

    def dead_letters(self, consumer: str) -> DeadLetters:
        return DeadLetters(self.publisher, dead_letter_topic(self.service), consumer)
