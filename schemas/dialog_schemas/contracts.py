"""Generate the contract files other systems integrate against, from the catalog.

`schemas/contracts/` gets one JSON Schema per event type and version, the envelope's schema and
one AsyncAPI 3.0 document for every topic; `docs/integration.md` gets the integration guide with
an example message per event type. Everything here is derived, so it cannot drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import yaml

from dialog_schemas.catalog import TOPICS, TopicContract, event_types
from dialog_schemas.envelope import CONTENT_TYPE, Envelope, Event, binding_headers
from dialog_schemas.examples import EXAMPLES, example_envelope
from dialog_schemas.personal import personal_fields

CONTRACTS = "schemas/contracts"
EVENTS = f"{CONTRACTS}/events"
RELEASED = f"{CONTRACTS}/released"
GUIDE = "docs/integration.md"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING = "0.5.0"
RECORD_HEADERS = {
    "content-type": {"type": "string", "const": CONTENT_TYPE},
    **{
        f"ce_{name}": {
            "type": "string",
            "description": f"The `{name}` attribute as in the value, in canonical string form.",
        }
        for name in Envelope.model_fields
        if name not in ("data", "datacontenttype")
    },
}


def summary(event: type[Event]) -> str:
    """The first line of an event's docstring; every event type must say what it means."""
    lines = (event.__doc__ or "").strip().splitlines()
    if not lines:
        raise ValueError(f"{event.event_type} has no docstring saying what it means")
    return lines[0]


def schema_file(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.schema.json"


def event_schema(event: type[Event]) -> dict[str, Any]:
    """The JSON Schema of an event's `data`, with its type, version and personal fields."""
    schema = event.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:dialog:event:{event.event_type}:v{event.schema_version}",
        **schema,
        "x-event-type": event.event_type,
        "x-schema-version": event.schema_version,
        "x-personal-data-fields": list(personal_fields(event)),
    }


def envelope_schema() -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "urn:dialog:envelope:cloudevents-1.0",
        **Envelope.model_json_schema(mode="validation"),
    }


def render_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def source_of(topic: TopicContract) -> str:
    """The `source` attribute of the example events on a topic."""
    producer = topic.producers[0]
    if producer.startswith("external: "):
        return "/" + producer.removeprefix("external: ").replace(" ", "-")
    return f"/{producer}/api"


def topic_examples() -> list[tuple[TopicContract, Event, Envelope]]:
    by_type = {e.event_type: e for e in EXAMPLES}
    return [
        (topic, by_type[name], example_envelope(by_type[name], source_of(topic)))
        for topic in TOPICS
        for name in topic.events
    ]


def asyncapi() -> dict[str, Any]:
    """One AsyncAPI 3.0 document: every topic, its messages, key, headers, writers and readers."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    examples = {(t.name, e.event_type): env for t, e, env in topic_examples()}
    for topic in TOPICS:
        channel_id = _identifier(topic.name)
        refs = {}
        for name, event in topic.events.items():
            messages[name] = _message(topic, event, examples[(topic.name, name)])
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        if not topic.events:
            messages["RejectedRecord"] = _dead_letter_message()
            refs["RejectedRecord"] = {"$ref": "#/components/messages/RejectedRecord"}
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": refs,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "topicConfiguration": _topic_configuration(topic),
                    "bindingVersion": KAFKA_BINDING,
                }
            },
            "x-key": topic.key,
            "x-producers": list(topic.producers),
            "x-consumers": list(topic.consumers),
        }
        for action, actors in (("send", topic.producers), ("receive", topic.consumers)):
            for actor in actors:
                operations[f"{_identifier(actor)}.{action}.{channel_id}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"{actor} {'publishes to' if action == 'send' else 'reads'}"
                    f" {topic.name}",
                    "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in refs],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Customer-dialog platform events",
            "version": "1.0.0",
            "description": (
                "Topics of the customer-dialog platform. The platform writes every record as a"
                " CloudEvents 1.0 event in structured mode, with the Kafka binding's ce_ headers;"
                " ingress topics also accept binary mode. The record key is the subject"
                " (customer id), so everything about one customer is ordered within one"
                " partition."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded broker `make run` starts.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"Envelope": {"$ref": "envelope.schema.json"}},
        },
    }


def _message(topic: TopicContract, event: type[Event], example: Envelope) -> dict[str, Any]:
    version = event.schema_version
    return {
        "name": event.event_type,
        "title": event.event_type,
        "summary": summary(event),
        "contentType": CONTENT_TYPE,
        "headers": {"type": "object", "properties": RECORD_HEADERS},
        "payload": {
            "allOf": [
                {"$ref": "envelope.schema.json"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event.event_type},
                        "schemaversion": {"const": version},
                        "data": {"$ref": f"events/{schema_file(event.event_type, version)}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": topic.key},
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "examples": [
            {
                "name": f"{event.event_type}-example",
                "headers": dict(binding_headers(example)),
                "payload": example.model_dump(mode="json", exclude_none=True),
            }
        ],
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "RejectedRecord",
        "summary": "A record that could not be processed, unchanged, with why in dlq_* headers.",
        "headers": {
            "type": "object",
            "properties": {
                "dlq_reason": {
                    "type": "string",
                    "enum": [
                        "empty_record",
                        "oversized",
                        "not_json",
                        "invalid_envelope",
                        "unknown_type",
                        "unsupported_version",
                        "invalid_data",
                        "rejected",
                        "projection_failed",
                    ],
                },
                "dlq_detail": {"type": "string", "description": "JSON: what exactly is wrong."},
                "dlq_source_topic": {"type": "string"},
                "dlq_source_partition": {"type": "string"},
                "dlq_source_offset": {"type": "string"},
                "dlq_consumer": {"type": "string"},
            },
        },
        "payload": {"description": "The original record value, byte for byte."},
    }


def _topic_configuration(topic: TopicContract) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [topic.config["cleanup.policy"]]}
    if "retention.ms" in topic.config:
        config["retention.ms"] = int(topic.config["retention.ms"])
    return config


def _identifier(text: str) -> str:
    words = text.replace("external: ", "external ").replace(".", " ").replace("-", " ").split()
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def guide() -> str:
    """The integration guide: hand-written prose with generated tables and examples."""
    template = files("dialog_schemas").joinpath("integration.md.in").read_text()
    return (
        template.replace("<!-- topics -->", _topics_table())
        .replace("<!-- events -->", _events_table())
        .replace("<!-- examples -->", _examples())
        .replace("<!-- sdk example -->", _sdk_example())
    )


def _sdk_example() -> str:
    """The SDK example as the integration tests run it, without its module docstring."""
    source = files("dialog_schemas").joinpath("sdk_example.py").read_text()
    return source.split('"""\n\n', 1)[1].strip()


def _topics_table() -> str:
    rows = [
        "| topic | key | carries | written by | read by | retention |",
        "|---|---|---|---|---|---|",
    ]
    for topic in TOPICS:
        carries = ", ".join(f"`{name}`" for name in topic.events) or "rejected records"
        retention = "compacted" if topic.compacted else _retention(topic.retention_ms)
        rows.append(
            f"| `{topic.name}` | {topic.key} | {carries} | {', '.join(topic.producers)}"
            f" | {', '.join(topic.consumers)} | {retention} |"
        )
    return "\n".join(rows)


def _retention(ms: int) -> str:
    return "forever" if ms < 0 else f"{ms // 86_400_000} days"


def _events_table() -> str:
    rows = ["| event type | version | personal data fields | schema |", "|---|---|---|---|"]
    for name, event in sorted(event_types().items()):
        fields = ", ".join(f"`{f}`" for f in personal_fields(event)) or "none"
        path = f"../{EVENTS}/{schema_file(name, event.schema_version)}"
        rows.append(f"| `{name}` | {event.schema_version} | {fields} | [schema]({path}) |")
    return "\n".join(rows)


def _examples() -> str:
    sections = []
    for topic, event, envelope in topic_examples():
        body = render_json(envelope.model_dump(mode="json", exclude_none=True)).rstrip()
        sections.append(
            f"### `{event.event_type}` on `{topic.name}`\n\n{summary(type(event))}\n\n"
            f"Key: `{envelope.subject}`\n\n```json\n{body}\n```"
        )
    return "\n\n".join(sections)


def generated() -> dict[str, str]:
    """Every generated file, by path from the repository root."""
    out = {
        f"{CONTRACTS}/envelope.schema.json": render_json(envelope_schema()),
        f"{CONTRACTS}/asyncapi.yaml": yaml.safe_dump(
            asyncapi(), sort_keys=False, allow_unicode=True, width=100
        ),
        GUIDE: guide(),
    }
    for name, event in event_types().items():
        out[f"{EVENTS}/{schema_file(name, event.schema_version)}"] = render_json(
            event_schema(event)
        )
    return out
