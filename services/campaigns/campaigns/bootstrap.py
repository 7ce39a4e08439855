"""Composition root of the campaigns service."""

from campaigns.api import router
from campaigns.campaign_view import CampaignProjection
from campaigns.config import SERVICE, Settings
from campaigns.projections import CUSTOMER_TABLES, CustomerMergesProjection, OutreachProjection
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.journal import EventJournal
from dialogkit.lifecycle import CustomerTables
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [
        EventJournal(CAMPAIGNS_EVENTS),
        CampaignProjection(),
        OutreachProjection(),
        CustomerMergesProjection(),
    ]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router],
    projections=projections,
    description="Campaigns, audiences, outreach decisions and responses.",
    customer_tables=CustomerTables(merged=CUSTOMER_TABLES),
)
