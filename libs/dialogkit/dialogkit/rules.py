"""Business-rule violations: well-formed input the domain refuses, naming the field at fault.

The HTTP API answers one with a 422 problem document; an ingress route dead-letters the record
with reason `rejected`. Either way the field and the problem are machine-readable.
"""

from __future__ import annotations

from datetime import datetime


class RuleViolation(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InFuture(RuleViolation):
    """A fact reported as happened cannot have happened after now."""


def not_in_future(field: str, value: datetime, now: datetime) -> None:
    if value > now:
        raise InFuture(field, f"{value.isoformat()} is after now ({now.isoformat()})")


class NotFound(LookupError):
    """The command names something that does not exist (a customer, a consent)."""


class Conflict(Exception):
    """The command cannot apply to the current state (confirming a withdrawn consent, say)."""
