"""`python -m bench --smoke`: every figure of the benchmark table is produced (no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack.auth import auth_env
from tests.support import KEY_FILE

FIGURES = {
    "freshness",
    "highest_rate_api",
    "highest_rate_ingress",
    "command_round_trip",
    "live_projection",
    "rebuild",
    "post_latency",
    "eligibility",
    "batch_eligibility",
    "worker_start",
    "worker_restart",
    "eligibility_history",
    "trigger_latency",
    "dispatch",
}


def bench_environment() -> dict[str, str]:
    """The environment `make bench` has: without the keys the test harness trusts (every process
    the bench starts must get the bench's own from the bench)."""
    harness = set(auth_env(KEY_FILE))
    return {name: value for name, value in os.environ.items() if name not in harness}


def test_a_smoke_run_of_the_bench_produces_every_figure_of_the_table(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results", str(tmp_path)],
        env=bench_environment(),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    [written] = tmp_path.glob("*-smoke.json")
    document = json.loads(written.read_text())
    figures = {f["key"]: f for f in document["figures"]}
    assert set(figures) == FIGURES
    for key, figure in figures.items():
        assert figure["value"] is not None or figure["not_measured"], key
        assert figure["not_measured"] or figure["value"] > 0, f"{key} measured nothing"
        assert figure["load"] >= 0, key
    assert document["machine"]["cpus"] >= 1
    assert "| figure | value | ceiling (same run) |" in run.stdout
    assert "[1/8" in run.stderr, "progress is shown while it runs"
