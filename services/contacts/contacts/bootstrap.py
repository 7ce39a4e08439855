"""Composition root of the contacts service."""

from contacts.api import keys_router, router
from contacts.config import SERVICE, Settings
from contacts.ingress import ShopIngress
from contacts.projections import PRODUCT_TABLES, ProfileProjection
from contacts.suppression import router as suppression_router
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.journal import EventJournal
from dialogkit.lifecycle import CustomerTables
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [EventJournal(CONTACTS_EVENTS), ProfileProjection()]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router, keys_router, suppression_router],
    projections=projections,
    description="Customer profiles, contact points, products and contracts.",
    ingress=[ShopIngress()],
    customer_tables=CustomerTables(
        merged=PRODUCT_TABLES,
        kept={
            "profiles": "the duplicate's row stays, emptied, naming its survivor (410 Merged)",
            "contact_points": "the survivor's profile takes the duplicate's contact points",
            "data_keys": "a duplicate's events stay sealed with its own key",
        },
    ),
)
