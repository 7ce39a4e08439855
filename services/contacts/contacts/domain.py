"""Purchases, contracts and erasure: the facts about what a customer bought, cancelled, asked."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from pydantic import BaseModel

from dialog_schemas.common import ExternalId, Instant, Label
from dialog_schemas.contacts import (
    CancellationFacts,
    CancellationRetracted,
    ContactErased,
    ContractCancelled,
    ContractStarted,
    ProductPurchased,
    PurchaseFacts,
    SalesChannel,
    WithdrawalFacts,
)
from dialogkit.rules import RuleViolation, not_in_future

CONTACTS_NAMESPACE = UUID("2d8e4b7a-93c1-4f0e-b6a5-71c0d9e3f412")


def purchase_event_id(customer_id: str, purchase_id: str) -> UUID:
    """The same purchase reported twice is one event."""
    return uuid5(CONTACTS_NAMESPACE, f"{customer_id}/purchase/{purchase_id}")


def cancellation_event_id(customer_id: str, contract_id: str) -> UUID:
    """A contract is cancelled once, however often it is reported."""
    return uuid5(CONTACTS_NAMESPACE, f"{customer_id}/cancellation/{contract_id}")


def withdrawal_event_id(customer_id: str, contract_id: str) -> UUID:
    """A cancellation is withdrawn once, however often it is reported."""
    return uuid5(CONTACTS_NAMESPACE, f"{customer_id}/withdrawal/{contract_id}")


def record_withdrawal(facts: WithdrawalFacts, now: datetime) -> CancellationRetracted:
    """A cancellation was withdrawn: the contract runs on; it cannot be withdrawn in the future.

    A withdrawal of a contract never cancelled changes nothing downstream."""
    not_in_future("withdrawn_at", facts.withdrawn_at, now)
    return CancellationRetracted(contract_id=facts.contract_id, withdrawn_at=facts.withdrawn_at)


def record_purchase(facts: PurchaseFacts, now: datetime) -> ProductPurchased:
    not_in_future("purchased_at", facts.purchased_at, now)
    return ProductPurchased(**{name: getattr(facts, name) for name in PurchaseFacts.model_fields})


def record_cancellation(facts: CancellationFacts, now: datetime) -> ContractCancelled:
    """A cancellation has happened, and cannot take effect before it was declared."""
    not_in_future("cancelled_at", facts.cancelled_at, now)
    if facts.effective_on is not None and facts.effective_on < facts.cancelled_at.date():
        raise RuleViolation(
            "effective_on",
            f"{facts.effective_on.isoformat()} is before the cancellation"
            f" ({facts.cancelled_at.date().isoformat()})",
        )
    return ContractCancelled(
        **{name: getattr(facts, name) for name in CancellationFacts.model_fields}
    )


class StartContract(BaseModel):
    contract_id: ExternalId
    product_id: ExternalId
    category: Label
    started_at: Instant
    sales_channel: SalesChannel


def start_contract(command: StartContract, now: datetime) -> ContractStarted:
    """A contract has started; it cannot start in the future."""
    not_in_future("started_at", command.started_at, now)
    return ContractStarted(**command.model_dump())


def erase(customer_id: str, suppressed_hashes: list[str], now: datetime) -> ContactErased:
    """Erasure (GDPR Art. 17) keeps the contact points only as salted hashes, to stay blocked."""
    return ContactErased(
        erased_at=now,
        request_id=uuid5(CONTACTS_NAMESPACE, f"{customer_id}/erasure"),
        suppressed_contact_points=sorted(set(suppressed_hashes)),
    )
