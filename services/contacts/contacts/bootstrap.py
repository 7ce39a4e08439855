"""Composition root of the contacts service."""

from datetime import timedelta

from contacts import audit, data_keys
from contacts.api import router
from contacts.config import SERVICE, Settings
from contacts.ingress import ShopIngress
from contacts.projections import PRODUCT_TABLES, ProfileProjection
from contacts.suppression import router as suppression_router
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.jobs import Periodic
from dialogkit.journal import EventJournal
from dialogkit.lifecycle import CustomerTables
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
    customer_tables=CustomerTables(
        merged=PRODUCT_TABLES,
        kept={
            "profiles": "the duplicate's row stays, emptied, naming its survivor (410 Merged)",
            "contact_points": "the survivor's profile takes the duplicate's contact points",
            "data_keys": "a duplicate's events stay sealed with its own key",
            "audit_trail": "who accessed which id's data, as it was recorded at the time",
        },
    ),
)
