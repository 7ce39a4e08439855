"""Composition root of the consent service."""

from consent.config import SERVICE, Settings
from dialog_schemas.catalog import CONSENT_EVENTS
from dialogkit.config import ServiceSettings
from dialogkit.journal import EventJournal
from dialogkit.projection import Projection
from dialogkit.service import ServiceDefinition


def projections(settings: ServiceSettings) -> list[Projection]:
    return [EventJournal(CONSENT_EVENTS)]


DEFINITION = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[],
    projections=projections,
    description="Permission to contact: consents, evidence, objections, eligibility.",
)
