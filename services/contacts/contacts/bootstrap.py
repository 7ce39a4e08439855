"""Composition root of the contacts service."""

from datetime import timedelta

from contacts import audit, data_keys
from contacts.api import router
from contacts.config import SERVICE, Settings
from contacts.ingress import ShopIngress
from contacts.projections import ProfileProjection
from contacts.suppression import router as suppression_router
from contacts.tables import CUSTOMER_TABLES
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.jobs import Periodic
from dialogkit.journal import EventJournal
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [EventJournal(CONTACTS_EVENTS), ProfileProjection(), audit.AuditTrailProjection()]


def periodic(settings: Settings) -> list[Periodic]:
    return [audit.AuditRetention(timedelta(days=settings.audit_retention_days))]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router, data_keys.router, suppression_router, audit.router],
    projections=projections,
    description="Customer profiles, contact points, products and contracts.",
    ingress=[ShopIngress()],
    periodic=periodic,
    customer_tables=CUSTOMER_TABLES,
)
