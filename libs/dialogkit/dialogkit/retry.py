"""Waiting out outages: a database or broker that is away is retried, never skipped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaError

from dialogkit.publishing import BrokerUnavailable, PublishOutcomeUnknown

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors that say a dependency is unreachable, not that a record is bad.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    KafkaError,
    BrokerUnavailable,
    PublishOutcomeUnknown,  # a worker's events carry fixed ids: publishing again is harmless
)
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


async def retry_transient(operation: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Run `operation` until it succeeds or fails for a reason other than an outage."""
    delay = FIRST_DELAY_S
    while True:
        try:
            return await operation()
        except TRANSIENT_ERRORS as error:
            log.warning(
                "dependency unavailable, retrying", extra={"what": what, "error": repr(error)}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
