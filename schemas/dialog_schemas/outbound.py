"""Outreach handed to the channel systems: one topic per channel, one request per outreach.

Each request carries what the dialer, the email service provider, the letter shop or the SMS
gateway needs to carry it out: the outreach id (echo it back on every touchpoint and response,
so they are attributed to the outreach), the customer (the subject), the contact point to use
(personal data, sealed with the customer's key), the message or call-script reference and the
deadline after which the outreach must not be carried out any more.
"""

from __future__ import annotations

from uuid import UUID

from dialog_schemas.common import EmailAddress, ExternalId, Instant, PhoneNumber, Purpose
from dialog_schemas.contacts import Address
from dialog_schemas.envelope import Event
from dialog_schemas.personal import Personal


class OutreachRequest(Event):
    """What every channel request carries."""

    outreach_id: UUID
    campaign_id: ExternalId
    purpose: Purpose
    message_ref: ExternalId | None = None
    """The message, letter or call script to use, as the campaign names it."""
    requested_at: Instant
    deadline: Instant
    """Do not carry the outreach out after this; report it as not done instead."""


class CallRequested(OutreachRequest):
    """An authorized outbound call for the dialer."""

    phone_number: Personal[PhoneNumber]


class EmailRequested(OutreachRequest):
    """An authorized email for the email service provider."""

    email_address: Personal[EmailAddress]


class LetterRequested(OutreachRequest):
    """An authorized letter for the letter shop."""

    address: Personal[Address]


class SmsRequested(OutreachRequest):
    """An authorized SMS for the SMS gateway."""

    phone_number: Personal[PhoneNumber]
