"""Which event types travel on which topic: the registry consumers decode with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dialog_schemas.envelope import Event
from dialog_schemas.interactions import TouchpointRecorded


@dataclass(frozen=True)
class TopicContract:
    """A topic's name and the event types it may carry."""

    name: str
    events: Mapping[str, type[Event]] = field(default_factory=dict)
    compacted: bool = False

    @classmethod
    def of(
        cls, name: str, events: Iterable[type[Event]], *, compacted: bool = False
    ) -> TopicContract:
        return cls(name, {e.event_type: e for e in events}, compacted)


INTERACTIONS_EVENTS = TopicContract.of("interactions.events.v1", [TouchpointRecorded])
CONSENT_EVENTS = TopicContract.of("consent.events.v1", [])
CONTACTS_EVENTS = TopicContract.of("contacts.events.v1", [])
CAMPAIGNS_EVENTS = TopicContract.of("campaigns.events.v1", [])

TOPICS: tuple[TopicContract, ...] = (
    INTERACTIONS_EVENTS,
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    CAMPAIGNS_EVENTS,
)
