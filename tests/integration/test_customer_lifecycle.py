"""The runner follows merges and erasures in whatever order the events are read."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS, INTERACTIONS_EVENTS, TopicContract
from dialog_schemas.common import Channel, Direction
from dialog_schemas.contacts import ContactErased, ContactsMerged
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from interactions.projections import TimelineProjection

ORDERS = list(itertools.permutations(("merge", "erasure", "duplicate")))


async def test_merge_erasure_and_the_duplicates_note_end_the_same_in_every_order(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    dead = DeadLetters(FakePublisher(), "dl", "t")
    runners = {
        topic.name: ProjectionRunner(pool, TimelineProjection(topic, f"tl.{topic.name}"), dead)
        for topic in (INTERACTIONS_EVENTS, CONTACTS_EVENTS)
    }
    at = datetime.now(UTC) - timedelta(days=1)
    ends = {}
    for partition, order in enumerate(ORDERS):  # a partition each: positions of their own
        survivor, duplicate = f"s-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
        said = TouchpointRecorded(
            touchpoint_id="tp-1",
            channel=Channel.PHONE,
            direction=Direction.INBOUND,
            occurred_at=at,
            summary="my new number is 0151 0000",
            reported_by="t",
        )
        events: dict[str, tuple[TopicContract, str, Event]] = {
            "merge": (
                CONTACTS_EVENTS,
                survivor,
                ContactsMerged(merged_customer_id=duplicate, merged_at=at),
            ),
            "erasure": (
                CONTACTS_EVENTS,
                survivor,
                ContactErased(erased_at=at, request_id=uuid.uuid4()),
            ),
            "duplicate": (INTERACTIONS_EVENTS, duplicate, said),
        }
        for offset, step in enumerate(order):
            topic, subject, event = events[step]
            envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=subject, time=at)
            record = SourceRecord(topic.name, partition, offset, b"k", encode(envelope))
            assert (await runners[topic.name].handle([record])).applied == 1
        rows = await pool.fetch(
            "SELECT customer_id, note FROM timeline_entries"
            " WHERE customer_id = ANY($1) AND kind = 'TouchpointRecorded'",
            [survivor, duplicate],
        )
        ends[order] = [(r["customer_id"] == survivor, r["note"]) for r in rows]
    assert ends == {order: [(True, None)] for order in ORDERS}, (
        "the duplicate's entry ends with its survivor, its note gone with the erasure"
    )
