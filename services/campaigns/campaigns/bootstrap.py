"""Composition root of the campaigns service."""

from campaigns.api import router
from campaigns.api_reports import router as reports_router
from campaigns.barrier import ReadBarrier
from campaigns.campaign_view import CampaignProjection
from campaigns.config import SERVICE, Settings
from campaigns.dispatch import Policy
from campaigns.dispatcher import Dispatcher
from campaigns.facts import (
    AudienceContactsProjection,
    AudienceObjectionsProjection,
    AudienceTouchesProjection,
)
from campaigns.outbox import OutboxRelay
from campaigns.phone_zones import PhoneZones
from campaigns.planning import Planner, WavesProjection
from campaigns.projections import CustomerMergesProjection, OutreachProjection
from campaigns.responses import (
    ContactResponsesProjection,
    DispatchedOutreachProjection,
    InteractionResponsesProjection,
)
from campaigns.signals import SignalIngress
from campaigns.tables import CUSTOMER_TABLES
from campaigns.triggered import TriggerPlanner
from consentledger.projections import ConsentHistoryProjection, CustomerFactsProjection
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONSENT_EVENTS, CONTACTS_EVENTS
from dialogkit.jobs import Periodic
from dialogkit.journal import EventJournal
from dialogkit.kafka_security import kafka_client_options
from dialogkit.offsets import KafkaTopicEnds
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition

CONSENT_VIEW = {
    CONSENT_EVENTS.name: ("campaigns.consent-history", "campaigns.audience-objections"),
    CONTACTS_EVENTS.name: ("campaigns.consent-facts", "campaigns.audience-facts"),
}
"""The projections a dispatch decision reads, by topic: the read barrier waits for them."""


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    triggers = TriggerPlanner(settings.trigger_cooldown)
    return [
        EventJournal(CAMPAIGNS_EVENTS),
        CampaignProjection(triggers),
        OutreachProjection(),
        CustomerMergesProjection(),
        WavesProjection(),
        DispatchedOutreachProjection(),
        InteractionResponsesProjection(settings.response_windows),
        ContactResponsesProjection(settings.response_windows),
        AudienceContactsProjection(triggers),
        AudienceObjectionsProjection(),
        AudienceTouchesProjection(triggers),
        ConsentHistoryProjection("campaigns.consent-history", CUSTOMER_TABLES),
        CustomerFactsProjection("campaigns.consent-facts", CUSTOMER_TABLES),
    ]


def periodic(settings: Settings) -> list[Periodic]:
    relay = OutboxRelay(settings.key_store(), batch=settings.dispatch_batch)
    barrier = ReadBarrier(
        KafkaTopicEnds(settings.kafka_bootstrap, kafka_client_options(settings)),
        CONSENT_VIEW,
        timeout_s=settings.read_barrier_timeout_s,
    )
    policy = Policy(calling_hours=settings.calling_hours, consent_expiry=settings.consent_expiry)
    return [
        PhoneZones(settings.key_store(), interval_s=settings.plan_interval_s),
        Planner(relay, barrier, interval_s=settings.plan_interval_s, batch=settings.plan_batch),
        Dispatcher(
            barrier,
            relay,
            policy,
            settings.frequency_caps,
            default_zone=settings.default_time_zone,
            interval_s=settings.dispatch_interval_s,
            batch=settings.dispatch_batch,
        ),
    ]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router, reports_router],
    projections=projections,
    periodic=periodic,
    description="Campaigns, audiences, outreach decisions and responses.",
    ingress=[SignalIngress()],
    customer_tables=CUSTOMER_TABLES,
)
