"""The steps of a worker's start are read from the times of its own log lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bench.start_steps import STEPS, marks

SPAWNED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC).timestamp()


def line(seconds: float, message: str) -> str:
    at = datetime.fromtimestamp(SPAWNED + seconds, UTC).isoformat()
    return json.dumps({"time": at, "level": "INFO", "logger": "x", "message": message})


def test_each_step_ends_at_the_first_line_with_its_marker(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(
        "\n".join(
            [
                "not json at all",
                "\x1b[?25h" + line(3.1, "[^Worker]: Starting..."),  # faust's spinner writes first
                line(3.2, "Subscribed to topic(s): {'interactions.events.v1'}"),
                line(3.25, "(Re-)joining group interactions-worker"),
                line(4.25, "Joined group 'interactions-worker' (generation 0) with member_id m"),
                line(4.26, "Setting newly assigned partitions {...}"),
                line(4.3, "[^---Recovery]: Worker ready"),
                line(9.0, "(Re-)joining group interactions-worker"),  # a later rebalance
            ]
        )
    )
    found = marks(log, SPAWNED)
    assert [round(found[marker], 2) for _, marker in STEPS] == [3.1, 3.2, 3.25, 4.25, 4.26, 4.3]


def test_a_step_missing_from_the_log_has_no_mark(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text(line(3.1, "[^Worker]: Starting...") + "\n")
    assert set(marks(log, SPAWNED)) == {"[^Worker]: Starting..."}
