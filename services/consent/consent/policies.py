"""What the consent service records when other services report something consent-relevant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid5

import asyncpg

from consent.config import SERVICE
from consent.domain import RecordObjection, RecordUse, object_to_marketing, record_use
from consentledger.domain import ConsentState
from consentledger.store import load_state
from dialog_schemas import Envelope
from dialog_schemas.campaigns import OutreachAuthorized
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONSENT_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.interactions import OptOutReceived
from dialogkit.emitter import Emitter
from dialogkit.projection import Decoded
from dialogkit.publishing import EventPublisher
from dialogkit.retry import NotAppliedYet
from dialogkit.rules import NotFound

SETTLE = timedelta(seconds=30)
"""How long after an authorization an unknown consent may still be on its way."""

WORKER = Emitter(SERVICE, "worker")


class OptOutPolicy:
    """An opt-out on a touchpoint (do-not-call, unsubscribe) becomes an objection on its channel.

    The objection withdraws the channel's open consents and ends the non-consent bases on it.
    Event ids derive from the opt-out's, so a batch applied again publishes the same events.
    """

    name = "consent.opt-outs"
    source = INTERACTIONS_EVENTS

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        envelopes: list[Envelope] = []
        now = datetime.now(UTC)
        for decoded in events:
            opt_out = decoded.event
            if not isinstance(opt_out, OptOutReceived):
                continue
            cause = decoded.envelope
            state = await load_state(connection, cause.subject) or ConsentState()
            command = RecordObjection(
                via_channel=opt_out.channel,
                channel=opt_out.channel,
                objected_at=opt_out.received_at,
                source_ref=opt_out.touchpoint_id,
            )
            decided = object_to_marketing(
                state, command, objection_id=uuid5(cause.id, "objection"), now=now
            )
            envelopes += [
                WORKER.caused_by(cause, event, id=uuid5(cause.id, f"consent-{n}"), time=now)
                for n, event in enumerate(decided)
            ]
        await self._publisher.publish(CONSENT_EVENTS.name, envelopes)


class ConsentUsePolicy:
    """An outreach authorized on a consent is a use of that consent (§7a UWG proof).

    The use is recorded as `ConsentUsed` with the outreach id as its reference, at the moment of
    the decision, so the proof bundle shows each use with the outreach that caused it. The event
    id derives from the authorization's, so a batch applied again records nothing twice. A use
    of a consent this service does not know, or that was not valid then, is refused by
    `record_use` and the authorization goes to the dead-letter topic with the reason. The grant
    travels on the consent topic, read beside the campaigns topic: an unknown consent is waited
    for (the batch retried with backoff) while the authorization is younger than `SETTLE`.
    """

    name = "consent.outreach-uses"
    source = CAMPAIGNS_EVENTS

    def __init__(self, publisher: EventPublisher, expiry: timedelta) -> None:
        self._publisher = publisher
        self._expiry = expiry

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        envelopes: list[Envelope] = []
        now = datetime.now(UTC)
        for decoded in events:
            authorized = decoded.event
            if not isinstance(authorized, OutreachAuthorized) or authorized.consent_id is None:
                continue
            cause = decoded.envelope
            state = await load_state(connection, cause.subject) or ConsentState()
            command = RecordUse(
                reference=str(authorized.outreach_id),
                purpose=authorized.purpose,
                used_at=authorized.decided_at,
            )
            try:
                used = record_use(
                    state, authorized.consent_id, command, now=now, expiry=self._expiry
                )
            except NotFound as error:
                # the grant and the authorization travel on different topics, read concurrently
                if now - cause.time < SETTLE:
                    raise NotAppliedYet(str(error)) from error
                raise
            envelopes += [
                WORKER.caused_by(cause, event, id=uuid5(cause.id, f"use-{n}"), time=now)
                for n, event in enumerate(used)
            ]
        await self._publisher.publish(CONSENT_EVENTS.name, envelopes)
