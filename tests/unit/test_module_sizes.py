"""Modules stay small enough to hold one idea: a reader takes one in at a sitting.

Every module of the services and the shared libraries stays within 300 lines, and a service's
`api.py` within 150: routes parse, call the command path or a view, and shape the answer.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_LINES = 300
API_LINES = 150


def sizes() -> dict[str, int]:
    modules = [*ROOT.glob("services/*/*/**/*.py"), *ROOT.glob("libs/*/*/**/*.py")]
    return {
        str(m.relative_to(ROOT)): len(m.read_text().splitlines())
        for m in modules
        if ".venv" not in m.parts
    }


def test_no_module_of_the_services_or_libraries_is_over_300_lines() -> None:
    found = sizes()
    assert len(found) > 100, "the modules were found"
    assert {m: n for m, n in found.items() if n > MODULE_LINES} == {}


def test_no_service_api_module_is_over_150_lines() -> None:
    apis = {m: n for m, n in sizes().items() if m.endswith("/api.py")}
    assert len(apis) == 4, apis
    assert {m: n for m, n in apis.items() if n > API_LINES} == {}
