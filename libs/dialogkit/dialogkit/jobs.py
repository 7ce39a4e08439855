"""Periodic jobs a worker runs besides its streams (e.g. recording consent expiries)."""

from __future__ import annotations

from typing import Any, Protocol

from dialogkit.publishing import EventPublisher


class Periodic(Protocol):
    """A job the worker runs every `interval_s` seconds, on every replica."""

    name: str
    interval_s: float

    async def run(self, pool: Any, publisher: EventPublisher) -> object:
        """Do one round; must be safe to run concurrently on several replicas."""
