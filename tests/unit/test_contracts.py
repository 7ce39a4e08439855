"""The published contract: generated files, compatibility with the release, examples, markers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from dialog_schemas import Event, Personal, personal_fields
from dialog_schemas.__main__ import drift, load_schemas
from dialog_schemas.catalog import TOPICS, UPCASTERS, event_types
from dialog_schemas.common import EmailAddress, PhoneNumber
from dialog_schemas.compatibility import breaking_changes
from dialog_schemas.consent import ConsentGranted
from dialog_schemas.contacts import ContactRegistered
from dialog_schemas.contracts import CONTRACTS, EVENTS, RELEASED, event_schema, schema_file
from dialog_schemas.examples import EXAMPLES, example_envelope

ROOT = Path(__file__).resolve().parents[2]


def released() -> dict[str, dict[str, Any]]:
    return load_schemas(ROOT / RELEASED)


def current() -> dict[str, dict[str, Any]]:
    return {
        schema_file(name, e.schema_version): event_schema(e) for name, e in event_types().items()
    }


def test_checked_in_contract_files_are_what_the_code_generates() -> None:
    assert drift(ROOT) == [], "run `make contracts` and commit the result"


def test_current_schemas_do_not_break_the_released_ones() -> None:
    breaks = breaking_changes(released(), current(), UPCASTERS)
    assert breaks == [], "\n".join(map(str, breaks))


def breaks_after(change: Any, event_type: str = "ConsentGranted") -> list[str]:
    """Apply `change` to a copy of an event's current schema and run the gate."""
    schemas = copy.deepcopy(current())
    name = next(n for n in schemas if n.startswith(f"{event_type}.v"))
    change(schemas, name, schemas[name])
    return [str(b) for b in breaking_changes(released(), schemas, UPCASTERS)]


def test_a_removed_field_is_caught() -> None:
    def remove(_: Any, __: str, schema: dict[str, Any]) -> None:
        del schema["properties"]["purpose"]
        schema["required"].remove("purpose")

    assert breaks_after(remove) == [
        "ConsentGranted v1 field `purpose`: removed or renamed; consumers reading it and"
        " producers sending it break"
    ]


def test_a_renamed_field_is_caught_as_removed_and_added() -> None:
    def rename(_: Any, __: str, schema: dict[str, Any]) -> None:
        schema["properties"]["consent_ref"] = schema["properties"].pop("consent_id")
        schema["required"] = ["consent_ref" if r == "consent_id" else r for r in schema["required"]]

    assert breaks_after(rename) == [
        "ConsentGranted v1 field `consent_id`: removed or renamed; consumers reading it and"
        " producers sending it break",
        "ConsentGranted v1 field `consent_ref`: new required field without a default; producers"
        " of the released version do not send it",
    ]


def test_a_changed_type_is_caught() -> None:
    def retype(_: Any, __: str, schema: dict[str, Any]) -> None:
        schema["properties"]["pending_confirmation"] = {"type": "string"}

    [message] = breaks_after(retype)
    assert message.startswith("ConsentGranted v1 field `pending_confirmation`: type changed from")
    assert '{"type":"boolean"} to {"type":"string"}' in message


def test_a_changed_type_inside_a_nested_object_is_caught() -> None:
    def retype(_: Any, __: str, schema: dict[str, Any]) -> None:
        schema["$defs"]["Evidence"]["properties"]["captured_at"] = {"type": "integer"}

    [message] = breaks_after(retype)
    assert message.startswith("ConsentGranted v1 field `evidence.captured_at`: type changed")


def test_a_new_required_field_is_caught_and_a_new_optional_one_is_not() -> None:
    def add(required: bool) -> Any:
        def change(_: Any, __: str, schema: dict[str, Any]) -> None:
            schema["properties"]["campaign"] = {"type": "string"}
            if required:
                schema["required"].append("campaign")

        return change

    assert breaks_after(add(required=True)) == [
        "ConsentGranted v1 field `campaign`: new required field without a default; producers"
        " of the released version do not send it"
    ]
    assert breaks_after(add(required=False)) == []


def test_enum_values_removed_or_added_are_caught() -> None:
    def narrow(_: Any, __: str, schema: dict[str, Any]) -> None:
        schema["$defs"]["Purpose"]["enum"].remove("surveys")
        schema["$defs"]["Purpose"]["enum"].append("sweepstakes")

    assert breaks_after(narrow) == [
        "ConsentGranted v1 field `purpose`: enum values ['surveys'] removed; producers sending"
        " them break",
        "ConsentGranted v1 field `purpose`: enum values ['sweepstakes'] added; existing"
        " consumers reject them",
    ]


def test_a_removed_event_type_is_caught() -> None:
    def drop(schemas: dict[str, Any], name: str, _: Any) -> None:
        del schemas[name]

    assert breaks_after(drop) == [
        "ConsentGranted v1: event type removed; consumers still expect it and stored events have it"
    ]


def test_a_new_version_needs_an_upcaster_from_every_released_one() -> None:
    def bump(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
        schemas["ConsentGranted.v2.schema.json"] = schemas.pop(name)

    assert breaks_after(bump) == [
        "ConsentGranted v1: stored v1 events cannot be read as v2: no upcaster from v1 to v2"
    ]


def test_a_breaking_edit_of_a_model_copy_is_caught_end_to_end() -> None:
    class Edited(Event):
        """ConsentGranted with the evidence dropped and the channel renamed."""

        event_type = "ConsentGranted"
        consent_id: str
        medium: str
        purpose: str
        pending_confirmation: bool
        contact_point: Personal[PhoneNumber | EmailAddress | None] = None
        lifts_objection: bool = False

    schemas = current() | {"ConsentGranted.v1.schema.json": event_schema(Edited)}
    messages = [str(b) for b in breaking_changes(released(), schemas, UPCASTERS)]
    assert [m.split(":")[0] for m in messages] == [
        "ConsentGranted v1 field `channel`",
        "ConsentGranted v1 field `consent_id`",
        "ConsentGranted v1 field `evidence`",
        "ConsentGranted v1 field `medium`",
        "ConsentGranted v1 field `purpose`",
    ]
    assert "removed or renamed" in messages[0]
    assert "type changed from" in messages[1]
    assert "removed or renamed" in messages[2]
    assert "new required field without a default" in messages[3]
    assert "type changed from" in messages[4]


def test_every_released_version_of_every_type_has_a_schema_file_named_for_it() -> None:
    names = set(released())
    assert {schema_file(n, e.schema_version) for n, e in event_types().items()} <= names
    assert "TouchpointRecorded.v1.schema.json" in names


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.event_type)
def test_each_example_is_valid_against_its_generated_json_schema(example: Event) -> None:
    schema = json.loads(
        (ROOT / EVENTS / schema_file(example.event_type, example.schema_version)).read_text()
    )
    data = example.model_dump(mode="json")
    assert list(validator(schema).iter_errors(data)) == []
    for field in personal_fields(type(example)):
        if "." not in field:
            encrypted = data | {field: "pii:v1:key-7:bm9uY2UgYW5kIGNpcGhlcnRleHQ"}
            assert list(validator(schema).iter_errors(encrypted)) == [], field


def test_example_envelopes_are_valid_against_the_envelope_schema() -> None:
    schema = json.loads((ROOT / CONTRACTS / "envelope.schema.json").read_text())
    for example in EXAMPLES:
        document = example_envelope(example, "/test").model_dump(mode="json", exclude_none=True)
        assert list(validator(schema).iter_errors(document)) == []


def test_json_schemas_reject_what_the_models_reject() -> None:
    schema = json.loads((ROOT / EVENTS / "ConsentGranted.v1.schema.json").read_text())
    data = EXAMPLES[0].model_dump(mode="json")
    assert not validator(schema).is_valid(data | {"surprise": 1})
    assert not validator(schema).is_valid(data | {"channel": "fax"})
    assert not validator(schema).is_valid({k: v for k, v in data.items() if k != "evidence"})


def test_personal_data_is_marked_in_models_and_schemas() -> None:
    assert set(personal_fields(ContactRegistered)) == {
        "name",
        "birth_date",
        "addresses",
        "phone_numbers",
        "email_addresses",
        "social_handles",
    }
    assert "kind" not in personal_fields(ContactRegistered)
    assert personal_fields(ConsentGranted) == ("contact_point",)
    schema = json.loads((ROOT / EVENTS / "ContactRegistered.v1.schema.json").read_text())
    assert schema["properties"]["name"]["x-personal-data"] is True
    assert "x-personal-data" not in schema["properties"]["kind"]
    assert schema["x-personal-data-fields"] == list(personal_fields(ContactRegistered))
    touchpoint = json.loads((ROOT / EVENTS / "TouchpointRecorded.v2.schema.json").read_text())
    assert "details.phone_number" in touchpoint["x-personal-data-fields"]


def test_every_event_is_a_frozen_past_tense_fact_without_extra_fields() -> None:
    for name, event in event_types().items():
        assert event.model_config.get("frozen") is True, name
        assert event.model_config.get("extra") == "forbid", name
        assert name.endswith(("ed", "Received", "Due", "Sent")), name


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / CONTRACTS / "asyncapi.yaml").read_text())
    return document


def test_the_asyncapi_document_describes_every_topic_and_message() -> None:
    document = asyncapi()
    assert document["asyncapi"] == "3.0.0"
    channels = {c["address"]: c for c in document["channels"].values()}
    assert set(channels) == {t.name for t in TOPICS}
    for topic in TOPICS:
        channel = channels[topic.name]
        assert set(channel["messages"]) == set(topic.events) or not topic.events
        assert channel["x-producers"] == list(topic.producers)
        assert channel["x-consumers"] == list(topic.consumers)
        policy = channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"]
        assert policy == ["compact" if topic.compacted else "delete"]
    actions = {(o["action"], o["channel"]["$ref"]) for o in document["operations"].values()}
    assert ("send", "#/channels/interactionsIngressV1") in actions
    assert ("receive", "#/channels/interactionsIngressV1") in actions


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = asyncapi()
    registry: Registry[Any] = Registry().with_resources(
        (
            f"file:{p.relative_to(ROOT / CONTRACTS)}",
            Resource.from_contents(json.loads(p.read_text())),
        )
        for p in (ROOT / CONTRACTS).rglob("*.schema.json")
        if RELEASED not in str(p.relative_to(ROOT))
    )
    refs = list(_refs(document))
    assert refs
    for ref in refs:
        if ref.startswith("#/"):
            target: Any = document
            for part in ref[2:].split("/"):
                target = target[part]
        else:
            assert registry.get(f"file:{ref}") is not None, ref


def _refs(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_each_message_example_in_the_asyncapi_document_is_a_valid_event() -> None:
    from dialogkit.codec import decode_envelope, decode_event

    known = event_types()
    for message in asyncapi()["components"]["messages"].values():
        for example in message.get("examples", []):
            envelope = decode_envelope(json.dumps(example["payload"]).encode())
            assert decode_event(envelope, known, strict=True).event_type == message["name"]


def test_drift_names_changed_missing_and_stale_files(tmp_path: Path) -> None:
    from dialog_schemas.__main__ import write

    write(tmp_path)
    assert drift(tmp_path) == []
    changed = tmp_path / EVENTS / "ConsentGranted.v1.schema.json"
    changed.write_text(changed.read_text().replace('"consent_id"', '"consent_ref"'))
    (tmp_path / CONTRACTS / "asyncapi.yaml").unlink()
    (tmp_path / EVENTS / "ConsentWithdrawn.v1.schema.json").write_text("{}")
    assert sorted(drift(tmp_path)) == [
        f"{CONTRACTS}/asyncapi.yaml: missing",
        f"{EVENTS}/ConsentGranted.v1.schema.json: differs",
        f"{EVENTS}/ConsentWithdrawn.v1.schema.json: no longer generated",
    ]


def test_the_catalog_names_every_service_that_reads_a_topic() -> None:
    from devstack.stack import definitions
    from dialogkit.publishing import FakePublisher

    by_name = {t.name: t for t in TOPICS}
    for definition in definitions():
        settings = definition.settings()
        sources = [p.source.name for p in definition.projections(settings, FakePublisher())]
        sources += [r.source.name for r in definition.ingress]
        sources += [t.name for t in definition.state_tables.values()]
        for source in sources:
            assert definition.name in by_name[source].consumers, (definition.name, source)
        for route in definition.ingress:
            assert definition.name in by_name[route.target.name].producers
