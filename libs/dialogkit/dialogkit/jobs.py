"""Periodic jobs a worker runs besides its streams (e.g. recording consent expiries).

A job goes through many records per round; one it cannot process must not stop the others,
this round or the next. `record_failed` counts such a record (`dialog_job_record_failures_total`
by job and reason, also on the worker's readiness page) and logs it with the reason; the job
records the failure with the record, so it is not tried again on every round.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from dialogkit import metrics
from dialogkit.publishing import EventPublisher

log = logging.getLogger(__name__)
JOB_RECORD_FAILURES_TOTAL = "dialog_job_record_failures_total"


class Periodic(Protocol):
    """A job the worker runs every `interval_s` seconds, on every replica."""

    name: str
    interval_s: float

    async def run(self, pool: Any, publisher: EventPublisher) -> object:
        """Do one round; must be safe to run concurrently on several replicas."""


def record_failed(job: str, record: str, error: Exception) -> str:
    """Count and log a record a job could not process; returns the reason to record with it."""
    reason = f"{type(error).__name__}: {error}"
    metrics.increment(JOB_RECORD_FAILURES_TOTAL, job=job, reason=type(error).__name__)
    log.warning("record skipped by job", extra={"job": job, "record": record, "reason": reason})
    return reason
