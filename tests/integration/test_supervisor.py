"""`make run` supervises: crashed services come back after a growing pause, reported; the
platform stops, saying why, only when the broker or the database dies."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from devstack.processes import Child, spawn
from devstack.stack import Stack, StackSettings, supervise
from devstack.supervisor import Backoff, Supervisor

CRASH = [sys.executable, "-c", "import sys; sys.exit(3)"]
LIVE = [sys.executable, "-c", "import time; time.sleep(120)"]


def watch_until(supervisor: Supervisor, done: Callable[[], bool], timeout: float = 30) -> None:
    """Run the supervisor's checks until `done` holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not reached in time"
        assert supervisor.check() is None
        time.sleep(0.02)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Child]]:
    """Every child a test starts; stopped at its end whatever happened."""
    children: list[Child] = []
    yield children
    for child in children:
        child.stop()


def test_a_crashing_service_is_restarted_with_growing_pauses_and_reported(
    tmp_path: Path, started: list[Child]
) -> None:
    log = tmp_path / "contacts-api.log"
    spawned: list[tuple[float, Child]] = []

    def restart() -> Child:
        child = spawn("contacts-api", CRASH, log)
        spawned.append((time.monotonic(), child))
        started.append(child)
        return child

    first = spawn("contacts-api", CRASH, log)
    started.append(first)
    reports: list[str] = []
    children = [first]
    supervisor = Supervisor(
        children,
        {"contacts-api": restart},
        backoff=Backoff(first_s=0.1, max_s=0.4, stable_s=60),
        report=reports.append,
    )
    began = time.monotonic()
    watch_until(supervisor, lambda: len(spawned) == 4)

    crashes = [r for r in reports if "exited" in r]
    assert [r.split("; ")[0] for r in crashes] == ["contacts-api exited with code 3"] * 4
    assert [r.split("; ")[1].split(" (read")[0] for r in crashes] == [
        "restart 1 in 0.1 s",
        "restart 2 in 0.2 s",
        "restart 3 in 0.4 s",
        "restart 4 in 0.4 s",
    ]
    assert all(f"(read {log})" in r for r in crashes)
    restarted = [r for r in reports if "restarted" in r]
    assert restarted == [f"contacts-api restarted (pid {c.pid})" for _, c in spawned]
    pauses = [at - began for at, _ in spawned]
    assert pauses[0] >= 0.1
    assert pauses[3] >= 0.1 + 0.2 + 0.4 + 0.4  # the pauses really were taken
    assert children == [spawned[-1][1]]  # the platform's list holds the running process


def test_a_service_that_ran_long_enough_starts_again_from_the_first_pause(
    tmp_path: Path, started: list[Child]
) -> None:
    clock = [0.0]
    log = tmp_path / "consent-worker.log"

    def restart() -> Child:
        started.append(spawn("consent-worker", CRASH, log))
        return started[-1]

    children = [restart()]
    reports: list[str] = []
    supervisor = Supervisor(
        children,
        {"consent-worker": restart},
        backoff=Backoff(first_s=1, max_s=8, stable_s=60),
        report=reports.append,
        clock=lambda: clock[0],
    )
    for _ in range(3):  # three quick crashes: 1 s, 2 s, 4 s
        children[0].process.wait(10)
        supervisor.check()
        clock[0] += 8
        supervisor.check()
    children[0].process.wait(10)
    clock[0] += 100  # it ran for 100 s before this crash
    supervisor.check()
    delays = [r.split("; ")[1].split(" (read")[0] for r in reports if "exited" in r]
    assert delays == [
        "restart 1 in 1 s",
        "restart 2 in 2 s",
        "restart 3 in 4 s",
        "restart 1 in 1 s",
    ]


def test_when_the_broker_dies_everything_stops_and_the_reason_is_given(
    tmp_path: Path, started: list[Child]
) -> None:
    broker = spawn("broker", LIVE, tmp_path / "broker.log")
    service = partial(spawn, "interactions-api", LIVE, tmp_path / "interactions-api.log")
    api = service()
    started += [broker, api]
    stack = Stack(StackSettings(state_dir=tmp_path), [broker, api], {"interactions-api": service})
    reports: list[str] = []
    supervisor = Supervisor(stack.children, stack.restarts, report=reports.append)
    broker.process.send_signal(signal.SIGKILL)

    code = supervise(stack, threading.Event(), supervisor)

    assert code == 1
    assert reports == [
        "broker exited with code -9 (SIGKILL); the platform cannot run without it and stops"
        f" (read {tmp_path / 'broker.log'})"
    ]
    assert not api.running()
    assert stack.children == []


def test_asked_to_stop_the_supervisor_stops_everything_without_a_reason(
    tmp_path: Path, started: list[Child]
) -> None:
    api = spawn("campaigns-api", LIVE, tmp_path / "campaigns-api.log")
    started.append(api)
    stack = Stack(StackSettings(state_dir=tmp_path), [api], {"campaigns-api": lambda: api})
    stopping = threading.Event()
    stopping.set()
    assert supervise(stack, stopping, Supervisor(stack.children, stack.restarts)) == 0
    assert not api.running()
