"""Composition root of the consent service."""

from consent.api import router
from consent.batch import router as batch_router
from consent.config import SERVICE, Settings
from consent.expiry import ExpiryJob
from consent.policies import ConsentUsePolicy, OptOutPolicy
from consent.projections import ConsentStateProjection, MergedConsentState
from consent.signing import router as signing_router
from consentledger.projections import CUSTOMER_TABLES, KEPT_TABLES, CustomerFactsProjection
from dialog_schemas.catalog import CONSENT_STATE
from dialogkit.jobs import Periodic
from dialogkit.lifecycle import CustomerTables
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.service import ServiceDefinition


def projections(settings: Settings, publisher: EventPublisher) -> list[Projection]:
    return [
        ConsentStateProjection(publisher, settings.expiry, settings.ledger_signer()),
        CustomerFactsProjection("consent.customer-facts"),
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
    customer_tables=CustomerTables(
        merged=CUSTOMER_TABLES,
        kept={
            "consent_state": "recomputed for the survivor and dropped for the duplicate on a merge",
            "consent_ledger": "each customer's signed chain stays as signed; the survivor's proof"
            " bundle carries its duplicates' chains",
            "consent_ledger_heads": "the signed head of each customer's own chain",
            "expiry_failures": "a failure of the duplicate's own state; the survivor's state"
            " changes on the merge, so the expiry job looks at it again",
            **KEPT_TABLES,
        },
    ),
)
