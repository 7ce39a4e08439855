"""What a rebuild reports while it runs, and the timings processes expose."""

from __future__ import annotations

from dialogkit import metrics
from dialogkit.replay import ReplayProgress


def test_rebuild_progress_says_what_is_applied_how_fast_and_what_is_left() -> None:
    shown = str(ReplayProgress("interactions.events.v1", 30_000, 120_000, 2.0))
    assert shown == (
        "interactions.events.v1: 30,000 of 120,000 events applied (25%), 15,000 events/s,"
        " 90,000 left, about 6 s left"
    )


def test_progress_before_any_time_has_passed_names_no_rate_it_does_not_know() -> None:
    shown = str(ReplayProgress("t.v1", 0, 10, 0.0))
    assert "0 events/s" in shown
    assert "about" not in shown


def test_timings_are_exposed_as_sum_and_count() -> None:
    with metrics.timed("dialog_test_seconds", step="a"):
        pass
    metrics.observe("dialog_test_seconds", 0.25, step="a")
    text = metrics.exposition()
    assert 'dialog_test_seconds_count{step="a"} 2' in text
    total = next(line for line in text.splitlines() if line.startswith("dialog_test_seconds_sum"))
    assert float(total.rpartition(" ")[2]) >= 0.25
