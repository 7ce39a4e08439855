"""Events of the contacts service: profiles, contact points, purchases and contracts, erasure."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import StringConstraints

from dialog_schemas.common import (
    NO_NUL,
    CalendarDate,
    Channel,
    CustomerKind,
    EmailAddress,
    ExternalId,
    FreeText,
    Instant,
    Label,
    Part,
    PhoneNumber,
    Sha256Hex,
)
from dialog_schemas.envelope import CustomerId, Event
from dialog_schemas.personal import Personal

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]


class Address(Part):
    street: Label
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=NO_NUL)]
    city: Label
    country: CountryCode
    """ISO 3166-1 alpha-2."""


class SocialHandle(Part):
    platform: Label
    handle: Label


class SalesChannel(StrEnum):
    WEB_SHOP = "web_shop"
    PHONE = "phone"
    STORE = "store"
    LETTER = "letter"
    FIELD_SALES = "field_sales"
    APP = "app"


class ContactRegistered(Event):
    """A customer became known to the company."""

    kind: CustomerKind
    name: Personal[Label]
    birth_date: Personal[CalendarDate | None] = None
    addresses: Personal[list[Address]] = []
    phone_numbers: Personal[list[PhoneNumber]] = []
    email_addresses: Personal[list[EmailAddress]] = []
    social_handles: Personal[list[SocialHandle]] = []
    preferred_language: LanguageTag | None = None
    time_zone: TimeZone | None = None
    interests: list[Label] = []
    customer_since: CalendarDate | None = None
    registered_at: Instant
    suppressed_channels: list[Channel] = []
    """Channels on which a contact point of this customer belonged to an erased customer: they
    stay blocked for marketing without a new express consent."""


class ContactUpdated(Event):
    """Some of a customer's details changed; fields left out did not."""

    name: Personal[Label | None] = None
    birth_date: Personal[CalendarDate | None] = None
    addresses: Personal[list[Address] | None] = None
    phone_numbers: Personal[list[PhoneNumber] | None] = None
    email_addresses: Personal[list[EmailAddress] | None] = None
    social_handles: Personal[list[SocialHandle] | None] = None
    preferred_language: LanguageTag | None = None
    time_zone: TimeZone | None = None
    interests: list[Label] | None = None
    kind: CustomerKind | None = None
    """A corrected kind (consumer or business), effective from `updated_at`."""
    updated_at: Instant
    suppressed_channels: list[Channel] = []
    """Channels on which a contact point this update gives the customer belonged to an erased
    customer: they stay blocked for marketing without a new express consent."""


class ContactsMerged(Event):
    """A duplicate was merged into the subject, which survives; the duplicate's history follows."""

    merged_customer_id: CustomerId
    merged_at: Instant
    suppressed_channels: list[Channel] = []
    """Channels on which a contact point the survivor takes from the duplicate belonged to an
    erased customer: they stay blocked for marketing without a new express consent."""


class PurchaseFacts(Part):
    purchase_id: ExternalId
    product_id: ExternalId
    product_name: Label
    category: Label
    """Products of one category are 'similar' for the existing-customer exemption (§7(3) UWG)."""
    purchased_at: Instant
    sales_channel: SalesChannel
    email_address: Personal[EmailAddress | None] = None
    """The address obtained in connection with this sale, if one was."""
    objection_notice_given: bool = False
    """The customer was told at collection that they may object to advertising by email."""


class CancellationFacts(Part):
    contract_id: ExternalId
    cancelled_at: Instant
    effective_on: CalendarDate | None = None
    reason: Personal[FreeText | None] = None
    """In the customer's words, when they gave one."""


class WithdrawalFacts(Part):
    contract_id: ExternalId
    withdrawn_at: Instant


class ProductPurchased(PurchaseFacts, Event):
    """The customer bought a product."""

    suppressed_channels: list[Channel] = []
    """Channels on which the address obtained with this purchase belonged to an erased
    customer: they stay blocked for marketing without a new express consent."""


class ContractStarted(Event):
    """A contract for a product began."""

    contract_id: ExternalId
    product_id: ExternalId
    category: Label
    started_at: Instant
    sales_channel: SalesChannel


class ContractCancelled(CancellationFacts, Event):
    """The customer cancelled a contract: the trigger for a retention campaign."""


class CancellationRetracted(WithdrawalFacts, Event):
    """The customer withdrew (retracted) a cancellation: the contract runs on."""


class ContactErased(Event):
    """The customer's personal data was erased (GDPR Art. 17); their data key is destroyed."""

    erased_at: Instant
    request_id: UUID
    suppressed_contact_points: list[Sha256Hex] = []
    """Salted hashes of the erased phone numbers and addresses, still blocked for marketing."""


class PurchaseReported(PurchaseFacts, Event):
    """Ingress: the shop or billing system reports a purchase."""


class CancellationReported(CancellationFacts, Event):
    """Ingress: the billing system reports a contract cancellation."""


class CancellationWithdrawalReported(WithdrawalFacts, Event):
    """Ingress: the billing system reports that a cancellation was withdrawn."""
