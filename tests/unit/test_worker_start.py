"""What a worker's faust app does before its consumer joins the group."""

from __future__ import annotations

import asyncio
import time

from faust.tables.manager import TableManager as FaustTableManager

from dialogkit import faust_transport
from dialogkit.worker_setup import faust_settings
from interactions.config import Settings


def app() -> faust_transport.App:
    return faust_transport.App(**faust_settings("interactions", Settings()))


def test_the_worker_app_uses_the_table_manager_that_does_not_wait() -> None:
    assert type(app().tables) is faust_transport.TableManager


def seconds_until_the_tables_are_registered(manager: FaustTableManager) -> tuple[float, list[str]]:
    """Run a table manager's start with its channels and recovery recorded, not run (both
    need a started consumer); returns the seconds it took and what it did, in order."""
    done: list[str] = []

    async def update_channels() -> None:
        done.append("tables registered")

    class Recovery:
        async def start(self) -> None:
            done.append("recovery started")

    manager._update_channels = update_channels  # type: ignore[method-assign]
    manager._recovery = Recovery()  # type: ignore[assignment]

    async def start() -> float:
        began = time.monotonic()
        await manager.on_start()
        return time.monotonic() - began

    return asyncio.run(start()), done


def test_the_table_manager_registers_the_tables_at_once() -> None:
    seconds, done = seconds_until_the_tables_are_registered(app().tables)
    assert done == ["tables registered", "recovery started"]
    assert seconds < 0.5


def test_fausts_own_table_manager_waits_a_second_first() -> None:
    """What the worker's table manager leaves out (should faust drop the wait, this fails)."""
    worker = faust_transport.App(
        **(faust_settings("interactions", Settings()) | {"TableManager": FaustTableManager})
    )
    seconds, done = seconds_until_the_tables_are_registered(worker.tables)
    assert done == ["tables registered", "recovery started"]
    assert seconds >= 1.0
