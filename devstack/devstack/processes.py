"""Child processes that never outlive the stack: logs to files, stopped by pid, no orphans."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """The stack could not start; the message names the cause and the log to read."""


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass
class Child:
    """A started process and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the process to stop; kill it if it does not within the timeout."""
        if not self.running():
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def spawn(
    name: str,
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Child:
    """Start a command whose output goes to `log`; it gets SIGTERM if this process dies."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        try:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                user=user,
                # Ctrl-C reaches only the stack, which stops its children in order
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        except FileNotFoundError as error:
            raise StartError(f"{name}: cannot start, {error.filename} not found") from None
    return Child(name, process, log, stop_signal)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    child: Child | None = None,
    interval: float = 0.1,
) -> None:
    """Poll until `ready()` holds; fail early when the child exits, or at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if child is not None and not child.running():
            raise StartError(
                f"{what}: process exited with code {child.process.returncode}; "
                f"read {child.log}\n{child.tail()}"
            )
        time.sleep(interval)
    hint = f"; read {child.log}\n{child.tail()}" if child else ""
    raise StartError(f"{what}: not ready within {timeout:.0f} s{hint}")


BYTECODE_CACHE = Path(sys.prefix) / "pycache" if sys.prefix != sys.base_prefix else None
"""Where the Python processes started from the project's environment keep their bytecode: inside
that environment (removed with it); None outside one."""


def keep_bytecode_for_children() -> Path | None:
    """Let the Python processes started from this one from now on keep compiled modules in
    BYTECODE_CACHE, whatever the environment says about bytecode (PYTHONDONTWRITEBYTECODE): each
    then compiles a module once, not at every start, as a deployed image does (it ships its
    bytecode). This process keeps its own settings. Returns the folder (None: nothing done)."""
    if BYTECODE_CACHE is not None:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    return BYTECODE_CACHE
