"""Keeping `make run` up: a service process that dies is started again after a growing pause
and reported; the platform stops only when a process it cannot do without (broker, database)
dies, and says which and how."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from devstack.processes import Child, StartError


@dataclass(frozen=True)
class Backoff:
    """Pauses before restarts: `first_s`, doubling up to `max_s`; a process that ran for
    `stable_s` before it died starts again from `first_s`."""

    first_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0

    def delay(self, attempt: int) -> float:
        """The pause before restart number `attempt` (1, 2, ...) in a row."""
        return float(min(self.first_s * 2 ** (attempt - 1), self.max_s))


def exit_description(child: Child) -> str:
    """`exited with code 3`, or `exited with code -9 (SIGKILL)` for a signal."""
    code = child.process.returncode
    if code is not None and code < 0:
        try:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited with code {code}"


def report_to_stderr(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@dataclass
class _Restarts:
    started_at: float
    attempts: int = 0
    due_at: float | None = None


class Supervisor:
    """Watches `children` (the list is updated in place when a process is restarted).

    A child named in `restarts` is started again with that function after its backoff; any
    other child is essential: when it dies, `check` says why the platform must stop.
    """

    def __init__(
        self,
        children: list[Child],
        restarts: Mapping[str, Callable[[], Child]],
        *,
        backoff: Backoff = Backoff(),
        report: Callable[[str], None] = report_to_stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = children
        self.restarts = restarts
        self.backoff = backoff
        self.report = report
        self.clock = clock
        self._state = {c.name: _Restarts(clock()) for c in children if c.name in restarts}

    def check(self) -> str | None:
        """Schedule or perform due restarts; return why the platform must stop, if it must."""
        now = self.clock()
        for index, child in enumerate(self.children):
            if child.running():
                continue
            if child.name not in self.restarts:
                return (
                    f"{child.name} {exit_description(child)}; the platform cannot run without"
                    f" it and stops (read {child.log})"
                )
            state = self._state.setdefault(child.name, _Restarts(now))
            if state.due_at is None:
                ran_s = now - state.started_at
                state.attempts = 1 if ran_s >= self.backoff.stable_s else state.attempts + 1
                delay = self.backoff.delay(state.attempts)
                state.due_at = now + delay
                self.report(
                    f"{child.name} {exit_description(child)};"
                    f" restart {state.attempts} in {delay:g} s (read {child.log})"
                )
            elif now >= state.due_at:
                self._restart(index, child, state, now)
        return None

    def _restart(self, index: int, child: Child, state: _Restarts, now: float) -> None:
        try:
            started = self.restarts[child.name]()
        except StartError as error:
            delay = self.backoff.delay(state.attempts)
            state.due_at = now + delay
            self.report(f"{child.name} could not be restarted ({error}); next try in {delay:g} s")
            return
        self.children[index] = started
        state.started_at, state.due_at = now, None
        self.report(f"{child.name} restarted (pid {started.pid})")

    def watch(self, stopping: threading.Event, interval_s: float = 0.5) -> str | None:
        """Check every `interval_s` until `stopping` is set (None) or the platform must stop
        (the reason, also reported)."""
        while not stopping.wait(interval_s):
            reason = self.check()
            if reason is not None:
                self.report(reason)
                return reason
        return None
