"""Input the platform could not carry is refused where it enters, as a 422 or a dead letter
naming the field: contract refusals inside handlers, text PostgreSQL cannot store, phone numbers
that could mean two numbers, datetimes outside the calendar; and OpenAPI names every problem."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

import orjson
import pytest
from fastapi import APIRouter

from campaigns.bootstrap import DEFINITION as CAMPAIGNS
from consent.bootstrap import DEFINITION as CONSENT
from contacts.bootstrap import DEFINITION as CONTACTS
from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS, INTERACTIONS_INGRESS
from dialog_schemas.contacts import ContactRegistered
from dialog_schemas.interactions import TouchpointReported
from dialogkit.auth import scope
from dialogkit.contactpoints import normalize_phone
from dialogkit.deadletters import DeadLetters
from dialogkit.http import create_api
from dialogkit.ingress import IngressContext, IngressProcessor
from dialogkit.projection import Decoded
from dialogkit.publishing import FakePublisher, Position, PublishOutcomeUnknown
from dialogkit.records import SourceRecord
from dialogkit.service import ServiceDefinition, build_api
from dialogkit.topics import SERVICES
from interactions.bootstrap import DEFINITION as INTERACTIONS
from interactions.ingress import TouchpointIngress
from tests.commands import COMMANDS, CONSENT_ID, EVIDENCE, KNOWN
from tests.fakes import CheckingPublisher, client_of, fake_app
from tests.support import token

REGISTRATION = next(c.body for c in COMMANDS if c.method == "POST" and c.path.endswith("c-new"))
TOUCHPOINT = next(c.body for c in COMMANDS if c.path == "/v1/touchpoints")
CAMPAIGN = next(c.body for c in COMMANDS if c.path == "/v1/campaigns")
AMBIGUOUS = "49 151 77482508"


def answer(
    definition: ServiceDefinition, method: str, path: str, body: Any, **settings: Any
) -> tuple[int, dict[str, Any], FakePublisher]:
    app, fakes = fake_app(definition, **settings)
    fakes.pool.register(KNOWN)

    async def send() -> tuple[int, dict[str, Any]]:
        async with client_of(app) as client:
            response = await client.request(
                method, path, content=json.dumps(body), headers={"content-type": "application/json"}
            )
        assert response.headers["content-type"].startswith(
            "application/problem+json" if response.status_code >= 400 else "application/json"
        )
        return response.status_code, response.json()

    status, document = asyncio.run(send())
    return status, document, fakes.publisher


def fields(document: dict[str, Any]) -> set[str]:
    return {e["field"] for e in document["errors"]}


# 8: no validator's unexpected exception escapes


def test_a_phone_number_longer_than_e164_is_a_422_naming_the_field() -> None:
    body = REGISTRATION | {"phone_numbers": ["+49 30 1234567890123"]}
    status, document, publisher = answer(CONTACTS, "POST", "/v1/customers/c-9", body)
    assert status == 422
    assert fields(document) == {"body.phone_numbers.0"}
    assert "at most 15" in document["errors"][0]["problem"]
    assert publisher.sent == {}


def test_a_value_an_event_refuses_inside_a_handler_is_a_422_naming_the_field() -> None:
    router = APIRouter()

    @router.post("/v1/things", dependencies=[scope("contacts:write")])
    async def thing() -> None:
        ContactRegistered.model_validate({"kind": "consumer", "name": "", "registered_at": "x"})

    app = create_api(
        "contacts", CONTACTS.settings(), [router], runtime_factory=fake_app(CONTACTS)[1]
    )

    async def send() -> Any:
        async with client_of(app) as client:
            return await client.post("/v1/things")

    response = asyncio.run(send())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert fields(response.json()) == {"body.name", "body.registered_at"}


class Refusing:
    """An ingress route whose domain builds an event the contract refuses."""

    name = "test.ingress"
    source = INTERACTIONS_INGRESS
    target = INTERACTIONS_EVENTS

    async def translate(
        self, incoming: Decoded, now: datetime, context: IngressContext
    ) -> Sequence[Envelope]:
        ContactRegistered.model_validate({"kind": "robot", "name": "x", "registered_at": now})
        return []


def report(**data: Any) -> SourceRecord:
    document = {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": "/telephony",
        "type": "TouchpointReported",
        "subject": KNOWN,
        "time": "2026-01-02T10:00:00Z",
        "schemaversion": 1,
        "correlationid": str(uuid4()),
        "data": {k: v for k, v in TOUCHPOINT.items() if k != "customer_id"} | data,
    }
    return SourceRecord(INTERACTIONS_INGRESS.name, 0, 0, b"k", orjson.dumps(document))


def ingest(route: Any, record: SourceRecord) -> list[tuple[str, Any]]:
    publisher = FakePublisher()
    dead = DeadLetters(publisher, "dl", route.name)
    context = IngressContext(None, INTERACTIONS.settings())
    processor = IngressProcessor(route, publisher, dead, context=context)
    asyncio.run(processor.handle([record]))
    return [
        (dict(h)["dlq_reason"].decode(), orjson.loads(dict(h)["dlq_detail"]))
        for _, _, h in publisher.raw.get("dl", [])
    ]


def test_an_ingress_record_whose_event_breaks_the_contract_is_dead_lettered() -> None:
    [(reason, detail)] = ingest(Refusing(), report())
    assert reason == "invalid_data"
    assert [d["field"] for d in detail] == ["kind"]


# 9: what is accepted, every projection can apply


def test_text_with_nul_is_refused_at_the_api_naming_the_field() -> None:
    body = REGISTRATION | {"name": "Erika\u0000Muster"}
    status, document, publisher = answer(CONTACTS, "POST", "/v1/customers/c-9", body)
    assert (status, fields(document)) == (422, {"body.name"})
    assert publisher.sent == {}


def test_text_with_nul_on_an_ingress_topic_is_dead_lettered_naming_the_field() -> None:
    [(reason, detail)] = ingest(TouchpointIngress(), report(summary="said \u0000 this"))
    assert reason == "invalid_data"
    assert [d["field"] for d in detail] == ["summary"]


def test_a_corrected_registration_without_a_key_is_a_new_event() -> None:
    _, first, _ = answer(CONTACTS, "POST", "/v1/customers/c-9", REGISTRATION)
    _, same, _ = answer(CONTACTS, "POST", "/v1/customers/c-9", REGISTRATION)
    corrected = REGISTRATION | {"kind": "business"}
    _, other, _ = answer(CONTACTS, "POST", "/v1/customers/c-9", corrected)
    assert first["event_id"] == same["event_id"] != other["event_id"]


# 11: a number typed without + that may mean two numbers


def test_a_german_number_typed_without_plus_is_refused_as_ambiguous() -> None:
    with pytest.raises(ValueError, match="ambiguous") as refused:
        normalize_phone(AMBIGUOUS)
    assert "+4915177482508" in str(refused.value)
    assert "+494915177482508" in str(refused.value)
    assert "write it with +" in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("49 89 12345678", "+498912345678"),  # as a national number it is no valid number
        ("+49 151 77482508", "+4915177482508"),
        ("0049 151 77482508", "+4915177482508"),
        ("0151 77482508", "+4915177482508"),
    ],
)
def test_a_number_with_one_valid_reading_is_normalized(typed: str, meant: str) -> None:
    assert normalize_phone(typed) == meant


@pytest.mark.parametrize(
    ("definition", "method", "path", "body", "field"),
    [
        (
            CONTACTS,
            "POST",
            "/v1/customers/c-9",
            REGISTRATION | {"phone_numbers": [AMBIGUOUS]},
            "body.phone_numbers.0",
        ),
        (
            CONTACTS,
            "PATCH",
            f"/v1/customers/{KNOWN}",
            {"phone_numbers": [AMBIGUOUS]},
            "body.phone_numbers.0",
        ),
        (
            CONSENT,
            "POST",
            f"/v1/customers/{KNOWN}/consents",
            {
                "channel": "phone",
                "purpose": "marketing",
                "evidence": EVIDENCE,
                "contact_point": AMBIGUOUS,
            },
            "body.contact_point",
        ),
        (
            INTERACTIONS,
            "POST",
            "/v1/touchpoints",
            TOUCHPOINT | {"details": TOUCHPOINT["details"] | {"phone_number": AMBIGUOUS}},
            "body.details.call.phone_number",
        ),
    ],
)
def test_every_path_that_takes_a_phone_number_refuses_the_ambiguous_one(
    definition: ServiceDefinition, method: str, path: str, body: Any, field: str
) -> None:
    status, document, publisher = (
        answer(definition, method, path, body, command_wait_s=0)
        if definition is CONSENT
        else answer(definition, method, path, body)
    )
    assert status == 422
    assert field in fields(document)
    assert publisher.sent == {}


def test_a_consent_grant_stores_its_phone_number_normalized() -> None:
    body = {
        "channel": "phone",
        "purpose": "marketing",
        "evidence": EVIDENCE,
        "contact_point": "49 89 12345678",
    }
    status, _, _ = answer(
        CONSENT, "POST", f"/v1/customers/{KNOWN}/consents", body, command_wait_s=0
    )
    assert status == 202


# 12: datetimes outside the calendar or without an offset


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2026-01-02T10:00:00",
    ],
)
def test_a_touchpoint_at_an_absurd_or_naive_time_is_refused_naming_the_field(
    occurred_at: str,
) -> None:
    body = TOUCHPOINT | {"occurred_at": occurred_at}
    status, document, publisher = answer(INTERACTIONS, "POST", "/v1/touchpoints", body)
    assert (status, fields(document)) == (422, {"body.occurred_at"})
    assert publisher.sent == {}


def test_a_touchpoint_in_year_one_on_the_ingress_is_dead_lettered_naming_the_field() -> None:
    [(reason, detail)] = ingest(TouchpointIngress(), report(occurred_at="0001-01-01T00:00:00Z"))
    assert reason == "invalid_data"
    assert [d["field"] for d in detail] == ["occurred_at"]


@pytest.mark.parametrize(
    ("query", "wrong"),
    [
        ("since=0001-01-01&until=0001-02-01", {"query.since", "query.until"}),
        ("since=9999-01-01&until=9999-02-01", {"query.since", "query.until"}),
        ("since=2026-02-30&until=2026-03-02", {"query.since"}),
        ("since=2026-03-01&until=tomorrow", {"query.until"}),
    ],
)
def test_a_channel_comparison_outside_the_calendar_is_refused_naming_the_parameter(
    query: str, wrong: set[str]
) -> None:
    status, document, _ = answer(CAMPAIGNS, "GET", f"/v1/reports/channels?{query}", None)
    assert (status, fields(document)) == (422, wrong)


def test_every_instant_of_every_event_is_bounded_by_the_calendar() -> None:
    from dialog_schemas.catalog import event_types

    for name, event in event_types().items():
        schema = json.dumps(event.model_json_schema())
        assert '"format": "date-time"}' not in schema.replace(
            '"format": "date-time", "formatM', ""
        ), name
    assert TouchpointReported.model_json_schema()["properties"]["occurred_at"]["formatMinimum"]


def strings_a_column_may_refuse(node: Any, at: str) -> list[str]:
    """Positions in a JSON schema where a string may hold NUL: no enum, no date format and no
    pattern that refuses it (PostgreSQL stores no NUL in text or jsonb)."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in strings_a_column_may_refuse(item, at)]
    if not isinstance(node, dict):
        return []
    found = []
    if (
        node.get("type") == "string"
        and not {"enum", "const"} & node.keys()
        and node.get("format") not in ("date-time", "date", "uuid")
    ):
        pattern = node.get("pattern")
        if pattern is None or any(re.search(pattern, s) for s in ("\x00", "a\x00", "+491\x00")):
            found.append(at)
    for key, value in node.items():
        found += strings_a_column_may_refuse(value, f"{at}.{key}")
    return found


def test_every_string_of_every_event_refuses_what_a_projection_cannot_store() -> None:
    from dialog_schemas.catalog import event_types

    unstorable = [
        position
        for name, event in event_types().items()
        for position in strings_a_column_may_refuse(event.model_json_schema(), name)
    ]
    assert unstorable == []


def test_a_campaign_audience_with_nul_in_a_time_zone_is_refused_naming_the_field() -> None:
    body = CAMPAIGN | {"audience": {"rule": {"time_zones": ["Europe/\u0000"]}}}
    status, document, publisher = answer(CAMPAIGNS, "POST", "/v1/campaigns", body, command_wait_s=0)
    assert (status, fields(document)) == (422, {"body.audience.rule.time_zones.0"})
    assert publisher.sent == {}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Mars/", "Europe", "europe/berlin"])
def test_a_campaign_audience_naming_no_real_zone_is_refused(zone: str) -> None:
    body = CAMPAIGN | {"audience": {"rule": {"time_zones": ["Europe/Berlin", zone]}}}
    status, document, publisher = answer(CAMPAIGNS, "POST", "/v1/campaigns", body, command_wait_s=0)
    assert (status, fields(document)) == (422, {"audience.rule.time_zones"})
    assert zone in document["errors"][0]["problem"]
    assert publisher.sent == {}


# 15: every route documents its problems


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def openapi_of(service: str) -> dict[str, Any]:
    definition = importlib.import_module(f"{service}.bootstrap").DEFINITION
    schema: dict[str, Any] = build_api(definition, definition.settings()).openapi()
    return schema


def routes_of(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (p, m, op)
        for p, ops in schema["paths"].items()
        if p.startswith("/v1")
        for m, op in ops.items()
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_documents_422_and_503_as_problems(service: str) -> None:
    """Every route takes a token (401, 403), a body limit (413) and input (422) and has
    dependencies (503); a command (a route that publishes) can also meet a state or a running
    key (409) and an unconfirmed publish (504); a route that publishes nothing never does."""
    schema = openapi_of(service)
    routes = routes_of(schema)
    assert routes
    for path, method, operation in routes:
        responses = operation["responses"]
        command = method != "get" and not operation.get("x-publishes-nothing")
        expected = {"401", "403", "413", "422", "503"} | ({"409", "504"} if command else set())
        for status in expected:
            assert responses[status]["content"] == PROBLEM, (path, method, status)
        if not command:
            assert not {"202", "409", "504"} & responses.keys(), (path, method)
        if "customer_id" in {p["name"] for p in operation.get("parameters", [])}:
            assert {"404", "410"} <= responses.keys(), (path, method)
    assert schema["paths"]["/readyz"]["get"]["responses"]["503"]["content"] == PROBLEM
    assert "errors" in schema["components"]["schemas"]["Problem"]["properties"]


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda m: CONSENT_ID if "consent" in m[0] else KNOWN, path)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_answers_401_403_and_413_as_it_documents(service: str) -> None:
    definition = importlib.import_module(f"{service}.bootstrap").DEFINITION
    app, fakes = fake_app(definition)
    routes = routes_of(openapi_of(service))
    too_large = b"x" * (definition.settings().http_max_body_bytes + 1)

    async def send() -> list[tuple[str, str, int, int, int]]:
        answers = []
        async with client_of(app) as client:
            for path, method, _ in routes:
                url = concrete(path)
                none = await client.request(method, url, headers={"Authorization": ""})
                other = await client.request(method, url, headers=token("nothing:here"))
                large = await client.request(method, url, content=too_large)
                statuses = (none.status_code, other.status_code, large.status_code)
                answers.append((path, method, *statuses))
        return answers

    for path, method, *statuses in asyncio.run(send()):
        assert statuses == [401, 403, 413], (path, method)
    assert set(fakes.publisher.sent) <= {"audit.events.v1"}  # a refused access is audited


class Unconfirmed(CheckingPublisher):
    """A broker that takes the events but does not confirm them in time."""

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        raise PublishOutcomeUnknown(topic, [e.id for e in envelopes], "no acknowledgement")


async def unconfirmed_answers(definition: ServiceDefinition) -> dict[tuple[str, str], int]:
    app, fakes = fake_app(definition, command_wait_s=0, sale_wait_s=0)
    for customer in (KNOWN, "c-2"):
        fakes.pool.register(customer)
    fakes.publisher = Unconfirmed(fakes.pool)
    answered = {}
    async with client_of(app) as client:
        for command in (c for c in COMMANDS if c.service is definition):
            response = await client.request(command.method, command.path, json=command.body)
            answered[(command.method, command.path)] = response.status_code
            if response.status_code == 504:
                assert "Idempotency-Key" in response.json()["detail"]
    return answered


def test_every_command_answers_504_when_its_publish_is_not_confirmed() -> None:
    answered: dict[tuple[str, str], int] = {}
    for service in SERVICES:
        definition = importlib.import_module(f"{service}.bootstrap").DEFINITION
        answered |= asyncio.run(unconfirmed_answers(definition))
    decided_before_publishing = {
        # the fakes' consent is pending confirmation, and they show no sale call
        ("POST", f"/v1/customers/{KNOWN}/consents/{CONSENT_ID}/uses"): 409,
        ("POST", f"/v1/customers/{KNOWN}/contract-confirmations"): 409,
    }
    assert {k: v for k, v in answered.items() if v != 504} == decided_before_publishing


# the compatibility gate and storage limits


def schema_of(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def test_storage_limits_added_within_a_version_break_nothing() -> None:
    from dialog_schemas.common import EMAIL_PATTERN, EMAIL_PATTERN_V1, INSTANT_LIMITS, NO_NUL
    from dialog_schemas.compatibility import breaking_changes

    released = schema_of(
        name={"type": "string", "maxLength": 200},
        email={"type": "string", "pattern": EMAIL_PATTERN_V1},
        at={"type": "string", "format": "date-time"},
        seconds={"type": "integer", "minimum": 0},
    )
    current = schema_of(
        name={"type": "string", "maxLength": 200, "pattern": NO_NUL},
        email={"type": "string", "pattern": EMAIL_PATTERN},
        at={"type": "string", "format": "date-time", **INSTANT_LIMITS},
        seconds={"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
    )
    name = "Thing.v1.schema.json"
    assert breaking_changes({name: released}, {name: current}, ()) == []


def test_a_tightened_constraint_beyond_storage_limits_still_breaks() -> None:
    from dialog_schemas.compatibility import breaking_changes

    released = schema_of(name={"type": "string", "maxLength": 200})
    for tightened in (
        {"type": "string", "maxLength": 100},
        {"type": "string", "maxLength": 200, "pattern": "^[a-z]*$"},
        {"type": "string", "maxLength": 200, "formatMinimum": "2020-01-01T00:00:00Z"},
    ):
        name = "Thing.v1.schema.json"
        [change] = breaking_changes({name: released}, {name: schema_of(name=tightened)}, ())
        assert change.field == "name"
