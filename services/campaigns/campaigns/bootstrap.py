"""Composition root of the campaigns service."""

from campaigns.config import SERVICE, Settings
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.config import ServiceSettings
from dialogkit.journal import EventJournal
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: ServiceSettings, publisher: EventPublisher) -> list[Projection]:
    return [EventJournal(CAMPAIGNS_EVENTS)]


DEFINITION = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[],
    projections=projections,
    description="Campaigns, audiences, outreach decisions and responses.",
)
