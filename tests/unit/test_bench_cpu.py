"""CPU per operation: the meter's differences, process trees, and the rate cores could carry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bench.cpu import CLIENT, CpuMeter, CpuUse, cost, tree_seconds


@dataclass
class FakeTimes:
    user: float
    system: float
    children_user: float = 0.0
    children_system: float = 0.0


def counter(*readings: float):  # type: ignore[no-untyped-def]
    values = iter(readings)
    return lambda: next(values)


def test_the_meter_gives_each_source_its_seconds_between_start_and_stop() -> None:
    meter = CpuMeter({"API": counter(10.0, 12.5), "bench": counter(3.0, 3.25)}, one_core=["API"])
    meter.start()
    assert meter.stop() == CpuUse({"API": 2.5, "bench": 0.25}, frozenset({"API"}))


def test_the_meter_refuses_to_stop_before_it_started() -> None:
    with pytest.raises(RuntimeError):
        CpuMeter({"API": counter(1.0)}).stop()


def test_a_tree_counts_its_living_members_and_the_children_they_reaped() -> None:
    server = FakeTimes(user=1.0, system=0.5, children_user=2.0, children_system=1.0)
    backends = [FakeTimes(user=0.25, system=0.25), FakeTimes(user=0.5, system=0.0)]
    assert tree_seconds(server, backends) == pytest.approx(5.5)
    assert tree_seconds(server, []) == pytest.approx(4.5)


def test_cost_gives_milliseconds_per_operation_and_the_busiest_one_core_process_bounds_it() -> None:
    use = CpuUse({"API": 2.0, "PostgreSQL": 0.5, CLIENT: 1.0}, frozenset({"API"}))
    line, ceiling = cost(use, 1000, "POST", cores=2)
    assert "API 2.00 ms, PostgreSQL 0.50 ms, bench 1.00 ms" in line
    # the platform's processes: 2.5 ms per POST, so 2 cores carry 800/s (the bench's own CPU
    # not counted); the API, one Python process, 500/s on its one core, which is the bound
    assert "2 cores carry at most 800 POSTs/s, API on its one core 500/s" in line
    assert ceiling == pytest.approx(500)


def test_cost_is_bounded_by_the_cores_when_the_work_is_spread() -> None:
    use = CpuUse({"API": 1.0, "worker": 1.0, "PostgreSQL": 1.0}, frozenset({"API", "worker"}))
    _, ceiling = cost(use, 1000, "touchpoint", cores=2)
    assert ceiling == pytest.approx(2 / 0.003)


def test_a_process_on_many_cores_does_not_bound_the_rate_by_one_core() -> None:
    use = CpuUse({"API": 0.5, "PostgreSQL": 1.5}, frozenset({"API"}))
    line, ceiling = cost(use, 1000, "question", cores=4)
    assert ceiling == pytest.approx(2000)
    assert "PostgreSQL on its one core" not in line


def test_cost_without_operations_or_platform_work_gives_no_ceiling() -> None:
    assert cost(CpuUse({"API": 1.0}), 0, "POST") == ("CPU per POST: no POST counted", None)
    line, ceiling = cost(CpuUse({CLIENT: 1.0}), 10, "request", cores=2)
    assert ceiling is None
    assert line == "CPU per request (user+system): bench 100.00 ms"
