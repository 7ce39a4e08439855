"""Composition root of the consent service."""

from consent.api import router
from consent.batch import router as batch_router
from consent.config import SERVICE, Settings
from consent.expiry import ExpiryJob
from consent.policies import ConsentUsePolicy, OptOutPolicy
from consent.projections import ConsentStateProjection, MergedConsentState
from consent.signing import router as signing_router
from consent.tables import CUSTOMER_TABLES
from consentledger.projections import CustomerFactsProjection
from dialog_schemas.catalog import CONSENT_STATE
from dialogkit.jobs import Periodic
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [
        ConsentStateProjection(publisher, settings.expiry, settings.ledger_signer()),
        CustomerFactsProjection("consent.customer-facts", CUSTOMER_TABLES),
        MergedConsentState(publisher, settings.expiry),
        OptOutPolicy(publisher),
        ConsentUsePolicy(publisher, settings.expiry),
    ]


def periodic(settings: Settings) -> list[Periodic]:
    return [ExpiryJob(settings.expiry, settings.expiry_check_s)]


DEFINITION: ServiceDefinition[Settings] = ServiceDefinition(
    name=SERVICE,
    settings=Settings,
    routers=[router, batch_router, signing_router],
    projections=projections,
    description="Permission to contact: consents, evidence, objections, eligibility, proof.",
    periodic=periodic,
    state_tables={"consent-state": CONSENT_STATE},
    customer_tables=CUSTOMER_TABLES,
)
