"""Composition root of the contacts service."""

from contacts.api import keys_router, router
from contacts.config import SERVICE, Settings
from contacts.ingress import ShopIngress
from contacts.projections import ProfileProjection
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.journal import EventJournal
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [EventJournal(CONTACTS_EVENTS), ProfileProjection()]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router, keys_router],
    projections=projections,
    description="Customer profiles, contact points, products and contracts.",
    ingress=[ShopIngress()],
)
