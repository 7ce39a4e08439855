"""The interactions service's commands: for each, its decision and how its ids derive.

A touchpoint's event id derives from customer and touchpoint id, its consequences' from that
(`interactions.domain.event_ids`), so a retried POST or webhook records one timeline entry.
A touchpoint needs no state (but a merged duplicate's id is refused with 410); a contract
confirmation decides on the sale call it confirms, as the timeline knows it. Both answer 202
once the events are on the topic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel

from dialog_schemas import Event
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.commands import CommandTable, Context, Handler, Ids, Outcome, Ports
from dialogkit.customers import refuse_merged
from interactions import domain
from interactions.config import Settings


class Accepted(BaseModel):
    event_id: UUID
    """The touchpoint's (or confirmation's) event id."""
    event_ids: list[UUID] = []
    """With the events of its consequences (opt-out, confirmation due)."""
    status: str = "accepted"

    @classmethod
    def of(cls, outcome: Outcome) -> Accepted:
        return cls(event_id=outcome.event_ids[0], event_ids=outcome.event_ids)


@dataclass(frozen=True)
class ConfirmContract:
    """The customer's contract confirmation (the path names the customer)."""

    body: domain.SendContractConfirmation


async def not_merged(ports: Ports[Settings], customer_id: str, command: Any) -> None:
    """Nothing to decide on, but a merged duplicate's id answers 410 with its survivor."""
    await refuse_merged(ports.pool, customer_id)


async def find_sale(
    ports: Ports[Settings], customer_id: str, command: ConfirmContract
) -> domain.Sale | None:
    """The customer's sale call the confirmation names, waiting up to `sale_wait_s` for the
    read model to show a call recorded a moment ago; None if there is none."""
    touchpoint_id = command.body.touchpoint_id
    deadline = time.monotonic() + ports.settings.sale_wait_s
    while True:
        sale_at = await ports.pool.fetchval(
            "SELECT occurred_at FROM timeline_entries WHERE customer_id = $1"
            " AND kind = 'ContractConfirmationDue' AND source_ref = $2 LIMIT 1",
            customer_id,
            touchpoint_id,
        )
        if sale_at is not None:
            return domain.Sale(touchpoint_id, sale_at)
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


def _record(state: None, command: domain.RecordTouchpoint, ctx: Context[Settings]) -> list[Event]:
    return domain.record_touchpoint(command, ctx.now)


def _confirm(
    sale: domain.Sale | None, command: ConfirmContract, ctx: Context[Settings]
) -> list[Event]:
    return [domain.send_contract_confirmation(command.body, ctx.now, sale)]


def _touchpoint_ids(customer_id: str, command: domain.RecordTouchpoint, key: str | None) -> Ids:
    return Ids.chained(domain.touchpoint_event_id(customer_id, command.touchpoint_id))


def _confirmation_ids(customer_id: str, command: ConfirmContract, key: str | None) -> Ids:
    touchpoint = domain.touchpoint_event_id(customer_id, command.body.touchpoint_id)
    return Ids.chained(uuid5(touchpoint, "ContractConfirmationSent"))


COMMANDS: CommandTable[Settings] = CommandTable(
    topic=INTERACTIONS_EVENTS,
    confirmed_by="interactions.timeline",
    handlers={
        domain.RecordTouchpoint: Handler(not_merged, _record, _touchpoint_ids),
        ConfirmContract: Handler(find_sale, _confirm, _confirmation_ids),
    },
)
