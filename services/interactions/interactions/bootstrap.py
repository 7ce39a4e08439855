"""Composition root of the interactions service."""

from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    INTERACTIONS_EVENTS,
)
from dialogkit.config import ServiceSettings
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition
from interactions.api import router
from interactions.config import SERVICE, Settings
from interactions.ingress import TouchpointIngress
from interactions.projections import TimelineProjection


def projections(settings: ServiceSettings, publisher: EventPublisher) -> list[Projection]:
    return [
        TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline"),
        TimelineProjection(CONSENT_EVENTS, "interactions.timeline.consent"),
        TimelineProjection(CONTACTS_EVENTS, "interactions.timeline.contacts"),
        TimelineProjection(CAMPAIGNS_EVENTS, "interactions.timeline.campaigns"),
    ]


DEFINITION = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router],
    projections=projections,
    description="Every touchpoint on every channel, and each customer's timeline.",
    ingress=[TouchpointIngress()],
)
