"""How a service process runs: uvicorn's options, uvloop under the rebuild (not the worker), and a
garbage collector tuned once start-up is done."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from dialogkit import heap, service
from dialogkit.heap import YOUNG_THRESHOLD, tune_for_service
from interactions.bootstrap import DEFINITION
from interactions.config import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector's thresholds and permanent generation as they were, after the test."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_tuning_freezes_what_start_up_kept_and_collects_the_young_less_often(
    collector: None,
) -> None:
    kept = [Cycle() for _ in range(10)]
    garbage = weakref.ref(Cycle())  # a cycle nothing refers to: only the collector frees it
    _, middle, old = gc.get_threshold()
    gc.unfreeze()

    tune_for_service()

    assert garbage() is None, "start-up's garbage is collected, not frozen for good"
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)


def test_cycles_made_after_tuning_are_still_collected(collector: None) -> None:
    tune_for_service(young_threshold=1_000)
    later = weakref.ref(Cycle())
    gc.collect()
    assert later() is None


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, kwargs or args))

        return record

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(service, "configure_tracing", recorder("tracing"))
    monkeypatch.setattr(heap, "tune_for_service", recorder("tune"))
    return recorder


def test_the_api_runs_on_uvloop_and_httptools_after_tuning_the_heap(
    recorded: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.uvicorn, "run", lambda app, **options: recorded("serve")(**options))
    settings = Settings(http_port=8123)

    service.run_api(DEFINITION, settings)

    assert recorded.names == ["tracing", "tune", "serve"]
    options = recorded.calls[-1][1]
    assert (options["loop"], options["http"]) == ("uvloop", "httptools")
    assert (options["port"], options["access_log"]) == (8123, False)
    assert options == service.server_options(settings)


def test_the_worker_stays_on_asyncios_loop_and_tunes_the_heap_before_running(
    recorded: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mode.loop

    from dialogkit import worker, worker_setup

    class Resources:
        def __init__(self, *args: Any) -> None:
            recorded("resources")()
            self.publisher = None

    class Worker:
        def __init__(self, *args: Any) -> None:
            recorded("worker")()

        def add_periodic(self, job: Any) -> None: ...

        def add_state_table(self, name: str, topic: Any) -> None: ...

        def run(self) -> None:
            recorded("run")()

    monkeypatch.setattr(mode.loop, "use", recorded("loop"))
    monkeypatch.setattr(worker_setup, "WorkerResources", Resources)
    monkeypatch.setattr(worker, "StreamWorker", Worker)

    service.run_worker(DEFINITION, Settings())

    assert "loop" not in recorded.names, "the worker stays on asyncio's loop"
    assert recorded.names == ["tracing", "resources", "worker", "tune", "run"]


def test_the_rebuild_runs_on_uvloop(recorded: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[Any] = []

    def run(coroutine: Any) -> None:
        ran.append(coroutine)
        coroutine.close()

    monkeypatch.setattr(service.uvloop, "run", run)
    service.run_rebuild(DEFINITION, Settings())
    assert [c.__qualname__ for c in ran] == ["run_rebuild.<locals>.rebuild"]
    assert recorded.names == ["tune"]
