"""Importing a module changes no process environment: the test harness alone sets the settings
the services it starts trust (`tests.support`), and a module imported beside it (the bench's,
a service's) must not replace them, or every later request of the session is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["bench", "devstack", "dialogkit", "consent", "contacts", "interactions", "campaigns"]

PROBE = """
import importlib, os, pkgutil, sys
before = dict(os.environ)
changed = []
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for found in pkgutil.walk_packages(root.__path__, package + "."):
        if found.name.endswith("__main__"):
            continue
        importlib.import_module(found.name)
        now = dict(os.environ)
        if now != before:
            changed.append((found.name, sorted(set(now.items()) ^ set(before.items()))))
            before = now
print(changed)
"""


def test_importing_any_module_leaves_the_environment_as_it_was() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *PACKAGES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]", run.stdout[-3000:]
