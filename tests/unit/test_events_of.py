"""Selecting a batch's events of one kind, as `isinstance` would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from dialog_schemas import Envelope, Event
from dialog_schemas.contacts import ContactErased
from dialog_schemas.examples import EXAMPLES
from dialogkit.merges import events_of
from dialogkit.projection import Decoded, of_type
from dialogkit.records import SourceRecord

AT = datetime(2026, 11, 1, tzinfo=UTC)


class ErasedAgain(ContactErased):
    """A subclass: selected with its base."""


def item(event: Event) -> Decoded:
    envelope = Envelope.wrap(event, id=uuid4(), source="/t", subject="c", time=AT)
    return Decoded(envelope, event, SourceRecord("t", 0, 0, None, b""))


def erased(cls: Any = ContactErased) -> Decoded:
    return item(cls(erased_at=AT, request_id=uuid4()))


def test_the_events_of_a_kind_and_its_subclasses_in_batch_order() -> None:
    others = [item(e) for e in EXAMPLES if not isinstance(e, ContactErased)][:5]
    batch = [erased(), others[0], erased(ErasedAgain), *others[1:], erased()]
    expected = [d for d in batch if isinstance(d.event, ContactErased)]
    assert len(expected) == 3
    assert events_of(batch, ContactErased) == expected
    assert of_type(batch, ContactErased) == expected
    assert events_of(batch, ErasedAgain) == [batch[2]]
    assert events_of([], ContactErased) == []
