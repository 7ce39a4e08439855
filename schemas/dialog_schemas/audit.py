"""The audit trail of personal-data access: who read, exported, erased or merged whose data.

Records name the caller (the token's subject), the customer (the envelope's subject), the
service and route, and the outcome; never the personal data itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from dialog_schemas.common import NO_NUL, Label
from dialog_schemas.envelope import Event


class AuditOutcome(StrEnum):
    ANSWERED = "answered"
    """The request was carried out (2xx)."""
    DENIED = "denied"
    """The caller lacked a scope (403)."""
    REFUSED = "refused"
    """The request was refused for another reason (4xx: not found, erased, invalid)."""
    FAILED = "failed"
    """The service could not answer (5xx)."""


class PersonalDataAccessed(Event):
    """A caller read or changed a customer's personal data through a service's API."""

    actor: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)]
    """The token's subject: a person's or a service's identity at the issuer."""
    action: Label
    """What was done: `profile`, `timeline`, `proof`, `export`, `erasure`, `merge`, ..."""
    service: Label
    method: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,7}$")]
    route: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    """The route's template, e.g. `/v1/customers/{customer_id}`; never query values."""
    status: Annotated[int, Field(ge=100, le=599)]
    outcome: AuditOutcome
    personal_fields_shown: bool
    """False when the answer left the personal fields out (no `read-personal` scope)."""
