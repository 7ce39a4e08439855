"""Readiness checks with a deadline each: a dependency that does not answer fails its check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Readiness:
    """Each check's result, and why each failing one failed."""

    checks: dict[str, bool]
    failing: dict[str, str]

    @property
    def ready(self) -> bool:
        return not self.failing


async def check_all(probes: Mapping[str, Probe], timeout_s: float) -> Readiness:
    """Run every probe at once, each given at most `timeout_s` seconds to answer true."""

    async def run(probe: Probe) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                return None if await probe() else "unreachable"
        except TimeoutError:
            return f"no answer within {timeout_s:g} s"
        except Exception as error:
            return f"failed: {error!r}"

    reasons = await asyncio.gather(*(run(probe) for probe in probes.values()))
    failing = {name: reason for name, reason in zip(probes, reasons, strict=True) if reason}
    return Readiness({name: name not in failing for name in probes}, failing)
