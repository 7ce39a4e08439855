"""Composition root of the interactions service."""

from consentledger.projections import ConsentHistoryProjection, CustomerFactsProjection
from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    INTERACTIONS_EVENTS,
)
from dialogkit.jobs import Periodic
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition
from interactions.api import router
from interactions.compliance import CampaignCategories, ComplianceCheckJob, ComplianceProjection
from interactions.config import SERVICE, Settings
from interactions.ingress import TouchpointIngress
from interactions.projections import TimelineProjection
from interactions.tables import CUSTOMER_TABLES


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [
        TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline"),
        TimelineProjection(CONSENT_EVENTS, "interactions.timeline.consent"),
        TimelineProjection(CONTACTS_EVENTS, "interactions.timeline.contacts"),
        TimelineProjection(CAMPAIGNS_EVENTS, "interactions.timeline.campaigns"),
        ComplianceProjection(),
        ConsentHistoryProjection("interactions.consent-history", CUSTOMER_TABLES),
        CustomerFactsProjection("interactions.customer-facts", CUSTOMER_TABLES),
        CampaignCategories(),
    ]


def periodic(settings: Settings) -> list[Periodic]:
    return [
        ComplianceCheckJob(
            settings.compliance_check_s, settings.compliance_settle, settings.consent_expiry
        )
    ]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router],
    projections=projections,
    description="Every touchpoint on every channel, each customer's timeline, compliance findings.",
    ingress=[TouchpointIngress()],
    periodic=periodic,
    customer_tables=CUSTOMER_TABLES,
)
