"""Producing to an ingress topic with the official CloudEvents SDK for Python (`cloudevents`)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent


def ingress_event(
    event_type: str, customer_id: str, data: dict[str, Any] | bytes, *, source: str
) -> CloudEvent:
    """A fact for an ingress topic; the SDK fills in `id`, `time` and `specversion`."""
    return CloudEvent(
        {
            "type": event_type,  # e.g. "TouchpointReported"
            "source": source,  # your system, e.g. "/telephony"
            "subject": customer_id,
            "schemaversion": 1,  # the version of the event type's schema, an integer
            "correlationid": str(uuid4()),  # or the id of the conversation it belongs to
            "datacontenttype": "application/json",
        },
        data,  # the fields as a dict, or JSON already encoded as bytes
    )


def customer_key(event: BaseCloudEvent) -> bytes:
    """The record key: the customer id, so that everything about a customer stays in order."""
    return str(event.get_subject()).encode()


async def produce(
    producer: AIOKafkaProducer, topic: str, event: CloudEvent, *, binary: bool
) -> None:
    """Write one event in binary or structured content mode; returns once the broker has it."""
    if binary:  # attributes as ce_* headers, the data as the value
        message = kafka.to_binary_event(event, key_mapper=customer_key)
    else:  # the whole event as JSON; bytes data travel as data_base64
        message = kafka.to_structured_event(event, key_mapper=customer_key)
    await producer.send_and_wait(
        topic, message.value, key=message.key, headers=list(message.headers.items())
    )
