"""The Python processes the tests start share a bytecode cache inside the project's environment:
the first to import a module compiles it and writes the result there, every later one reads it
back instead of compiling again (even where the environment asks not to write bytecode)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from devstack.processes import spawn
from tests.support import BYTECODE_CACHE


def run_importing(module: str, folder: Path, log: Path) -> str:
    """Start `python -v` importing `module` from `folder` as the fixtures start processes (the
    tests' environment); its import log."""
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); import {module}"
    child = spawn("probe", [sys.executable, "-v", "-c", code], log)
    assert child.process.wait(60) == 0, child.tail()
    return log.read_text()


def test_a_started_process_writes_its_bytecode_to_the_cache_and_the_next_reads_it(
    tmp_path: Path,
) -> None:
    assert BYTECODE_CACHE is not None
    assert BYTECODE_CACHE.parent == Path(sys.prefix)
    module = f"probe_{uuid.uuid4().hex}"
    source = tmp_path / "src" / f"{module}.py"
    source.parent.mkdir()
    source.write_text("ANSWER = 42\n")
    cached = (
        BYTECODE_CACHE
        / source.parent.relative_to("/")
        / (f"{module}.{sys.implementation.cache_tag}.pyc")
    )
    assert not cached.exists()

    first = run_importing(module, source.parent, tmp_path / "first.log")
    assert f"# created '{cached}'" in first
    assert cached.is_file()
    assert not (source.parent / "__pycache__").exists(), "nothing written beside the source"
    written = cached.stat().st_mtime_ns

    second = run_importing(module, source.parent, tmp_path / "second.log")
    assert f"# code object from '{cached}'" in second
    assert f"# created '{cached}'" not in second, "read, not compiled again"
    assert cached.stat().st_mtime_ns == written
