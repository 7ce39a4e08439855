"""Personal data sealed per customer: round trip, binding to customer and field, shredding."""

from __future__ import annotations

import json
import re
import uuid
from base64 import b64encode
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from jsonschema import Draft202012Validator

from dialog_schemas.examples import EXAMPLES
from dialog_schemas.personal import ENCRYPTED_PATTERN
from dialogkit.keys import DataKey, InMemoryKeyStore, KeyDestroyed
from dialogkit.pii import PersonalDataCipher

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = next(e for e in EXAMPLES if e.event_type == "ContactRegistered")
TOUCHPOINT = next(e for e in EXAMPLES if e.event_type == "TouchpointRecorded")
NOW = TOUCHPOINT.occurred_at
GRANTED = next(type(e) for e in EXAMPLES if e.event_type == "ConsentGranted")


async def test_personal_fields_are_sealed_and_open_again() -> None:
    cipher = PersonalDataCipher(InMemoryKeyStore())
    sealed = await cipher.seal("c-1", REGISTERED)
    for field in ("name", "birth_date", "addresses", "phone_numbers", "email_addresses"):
        assert re.match(ENCRYPTED_PATTERN, sealed[field]), field
    assert sealed["kind"] == "consumer", "what is not personal stays readable"
    assert "Erika" not in json.dumps(sealed)
    assert await cipher.open("c-1", sealed) == REGISTERED.model_dump(mode="json")


async def test_personal_fields_inside_value_objects_are_sealed() -> None:
    cipher = PersonalDataCipher(InMemoryKeyStore())
    sealed = await cipher.seal("c-1", TOUCHPOINT)
    assert sealed["details"]["phone_number"].startswith("pii:v1:")
    assert sealed["details"]["disposition"] == "sale"
    assert (await cipher.open("c-1", sealed))["details"]["phone_number"] == "+4930123456"


async def test_sealed_data_is_valid_against_the_published_schema() -> None:
    schema = json.loads(
        (ROOT / "schemas/contracts/events/ContactRegistered.v1.schema.json").read_text()
    )
    sealed = await PersonalDataCipher(InMemoryKeyStore()).seal("c-1", REGISTERED)
    assert list(Draft202012Validator(schema).iter_errors(sealed)) == []


async def test_the_same_value_seals_differently_each_time() -> None:
    cipher = PersonalDataCipher(InMemoryKeyStore())
    first, second = await cipher.seal("c-1", REGISTERED), await cipher.seal("c-1", REGISTERED)
    assert first["name"] != second["name"]


async def test_a_sealed_value_cannot_be_moved_to_another_customer_or_field() -> None:
    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    sealed = await cipher.seal("c-1", REGISTERED)
    swapped = sealed | {"name": sealed["phone_numbers"]}
    with pytest.raises(ValueError, match="does not belong"):
        await cipher.open("c-1", swapped)
    await cipher.seal("c-2", REGISTERED)
    with pytest.raises(KeyDestroyed):  # c-2 has another key: c-1's values are not its
        await cipher.open("c-2", sealed)


async def test_destroying_the_key_makes_every_sealed_value_unreadable() -> None:
    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    sealed = await cipher.seal("c-1", REGISTERED)
    assert await keys.destroy("c-1") is True
    with pytest.raises(KeyDestroyed):
        await cipher.open("c-1", sealed)
    with pytest.raises(KeyDestroyed, match="erased"):
        await cipher.seal("c-1", REGISTERED)


async def test_data_without_personal_values_needs_no_key() -> None:
    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    cancelled = next(e for e in EXAMPLES if e.event_type == "ContractStarted")
    assert await cipher.seal("c-3", cancelled) == cancelled.model_dump(mode="json")
    assert await keys.key_for("c-3") is None


def test_a_consumer_without_the_key_still_validates_a_sealed_event() -> None:
    from dialog_schemas.contacts import ContactRegistered

    sealed = {
        "kind": "business",
        "name": "pii:v1:key-1:c2VhbGVk",
        "phone_numbers": "pii:v1:key-1:c2VhbGVk",
        "registered_at": "2026-01-01T00:00:00Z",
    }
    event = ContactRegistered.model_validate(sealed)
    assert (event.kind, event.name) == ("business", "pii:v1:key-1:c2VhbGVk")


def test_errors_in_personal_fields_name_the_field_not_the_alternatives() -> None:
    from pydantic import ValidationError

    from dialog_schemas.contacts import ContactRegistered
    from dialogkit.codec import validation_detail

    with pytest.raises(ValidationError) as caught:
        ContactRegistered.model_validate(
            {"kind": "consumer", "name": "", "registered_at": "2026-01-01T00:00:00Z"}
        )
    assert validation_detail(caught.value) == [
        {
            "field": "name",
            "problem": "String should have at least 1 character",
            "kind": "string_too_short",
        }
    ]


async def test_a_reader_sees_the_event_opened_and_after_erasure_blanked() -> None:
    from dialogkit.pii import readable

    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    sealed = type(TOUCHPOINT).model_validate(await cipher.seal("c-1", TOUCHPOINT))
    assert sealed.summary.startswith("pii:v1:")
    assert await readable(cipher, "c-1", sealed) == TOUCHPOINT
    await keys.destroy("c-1")
    blanked = await readable(cipher, "c-1", sealed)
    assert (blanked.summary, blanked.details.phone_number) == ("", None)  # type: ignore[union-attr]
    assert blanked.details.disposition == TOUCHPOINT.details.disposition  # type: ignore[union-attr]


async def test_envelopes_are_sealed_for_their_subject_once() -> None:
    from dialog_schemas import Envelope

    cipher = PersonalDataCipher(InMemoryKeyStore())
    envelope = Envelope.wrap(
        TOUCHPOINT, id=uuid.uuid4(), source="/t", subject="c-7", time=TOUCHPOINT.occurred_at
    )
    [sealed] = await cipher.seal_envelopes([envelope])
    assert sealed.data["summary"].startswith("pii:v1:")
    [again] = await cipher.seal_envelopes([sealed])
    assert again.data == sealed.data, "sealed values are not sealed twice"
    assert (await cipher.open("c-7", again.data))["summary"] == TOUCHPOINT.summary


class CountingKeys(InMemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, bool]] = []

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        self.asked.append((customer_id, create))
        return await super().key_for(customer_id, create=create)


async def test_a_batch_asks_for_each_customers_key_once() -> None:
    from dialog_schemas import Envelope

    keys = CountingKeys()
    cipher = PersonalDataCipher(keys)
    envelopes = [
        Envelope.wrap(TOUCHPOINT, id=uuid.uuid4(), source="/t", subject=f"c-{n % 3}", time=NOW)
        for n in range(30)
    ]
    await cipher.seal_envelopes(envelopes)
    assert sorted(keys.asked) == [("c-0", True), ("c-1", True), ("c-2", True)]
    keys.asked.clear()
    await cipher.warm(["c-0", "c-1", "c-0", "c-9"])
    assert sorted(keys.asked) == [("c-0", False), ("c-1", False), ("c-9", False)]


async def test_the_proof_opens_a_merged_duplicates_contact_point_with_its_key() -> None:
    from consent.proof import open_contact_points

    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    own = await cipher.seal_data("s-1", GRANTED, {"contact_point": "s@example.org"})
    theirs = await cipher.seal_data("d-1", GRANTED, {"contact_point": "d@example.org"})
    bundle = {
        "consents": [
            {"contact_point": own["contact_point"]},
            {"contact_point": theirs["contact_point"]},
            {"contact_point": None},
        ]
    }
    opened = await open_contact_points(bundle, ["s-1", "d-1"], cipher)
    assert [c["contact_point"] for c in opened["consents"]] == [
        "s@example.org",
        "d@example.org",
        None,
    ]
    await keys.destroy("d-1")
    bundle["consents"][1]["contact_point"] = theirs["contact_point"]
    erased = await open_contact_points(bundle, ["s-1", "d-1"], cipher)
    assert erased["consents"][1]["contact_point"] is None


async def test_an_event_without_personal_data_needs_no_key() -> None:
    class Away(InMemoryKeyStore):
        async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
            raise AssertionError("no key may be asked for")

    plain = TOUCHPOINT.model_copy(update={"summary": "", "details": None})
    data = await PersonalDataCipher(Away()).seal("c-1", plain)
    assert data["summary"] == ""


FORGED = "pii:v1:k1:AAAA"


async def test_a_sealed_looking_value_in_a_field_that_is_not_personal_is_left_as_it_is() -> None:
    from dialogkit.pii import readable

    event = TOUCHPOINT.model_copy(update={"touchpoint_id": FORGED})
    shown = await readable(PersonalDataCipher(InMemoryKeyStore()), "c-1", event)
    assert shown.touchpoint_id == FORGED  # type: ignore[attr-defined]


async def test_a_personal_value_that_only_looks_sealed_is_refused_naming_the_field() -> None:
    from dialogkit.rules import RuleViolation

    cipher = PersonalDataCipher(InMemoryKeyStore())
    data = TOUCHPOINT.model_dump(mode="json") | {"summary": FORGED}
    with pytest.raises(RuleViolation) as refused:
        await cipher.seal_data("c-1", type(TOUCHPOINT), data)
    assert refused.value.field == "summary"


async def test_a_value_sealed_for_another_customer_is_refused_one_sealed_for_this_kept() -> None:
    from dialogkit.rules import RuleViolation

    keys = InMemoryKeyStore()
    cipher = PersonalDataCipher(keys)
    own = await cipher.seal("c-1", TOUCHPOINT)
    assert await cipher.seal_data("c-1", type(TOUCHPOINT), dict(own)) == own
    with pytest.raises(RuleViolation):
        await cipher.seal_data("c-2", type(TOUCHPOINT), dict(own))


@pytest.mark.parametrize("example", [REGISTERED, TOUCHPOINT], ids=lambda e: e.event_type)
async def test_an_event_is_sealed_when_any_personal_field_is_even_inside_a_value_object(
    example: Any,
) -> None:
    from dialogkit.pii import is_sealed

    assert not is_sealed(example)
    sealed = type(example).model_validate(
        await PersonalDataCipher(InMemoryKeyStore()).seal("c-1", example)
    )
    assert is_sealed(sealed)
    only_nested = TOUCHPOINT.model_dump(mode="json")
    only_nested["details"]["phone_number"] = "pii:v1:k1:c2VhbGVk"
    assert is_sealed(type(TOUCHPOINT).model_validate(only_nested))


async def test_the_key_client_asks_for_many_keys_in_one_request() -> None:
    from dialogkit.keys import BATCH_LIMIT, HttpKeyStore, KeyServiceUnavailable, new_key

    key = new_key()
    found = {"customer_id": "c-1", "key_id": key.key_id, "secret": b64encode(key.secret).decode()}
    bodies: list[dict[str, object]] = []

    def contacts(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        bodies.append(body)
        if body["customer_ids"] == ["down"]:
            return httpx.Response(503)
        asked = body["customer_ids"]
        missing = [c for c in asked if c not in ("c-1", "c-2")]  # the route answers every one
        keys = [found] if "c-1" in asked else []
        erased = ["c-2"] if "c-2" in asked else []
        return httpx.Response(200, json={"keys": keys, "erased": erased, "missing": missing})

    store = HttpKeyStore("http://contacts", "t", transport=httpx.MockTransport(contacts))
    answers = await store.keys_for(["c-1", "c-2", "c-3"], create=True)
    assert answers == {"c-1": key, "c-2": None, "c-3": None}
    assert bodies == [{"customer_ids": ["c-1", "c-2", "c-3"], "create": True}]
    assert await store.keys_for(["c-1", "c-2"]) == {"c-1": key, "c-2": None}
    assert len(bodies) == 1, "readers take found and erased answers from the cache"
    await store.keys_for(["c-1"], create=True)
    assert len(bodies) == 2, "sealing always asks"
    await store.keys_for([f"n-{n}" for n in range(BATCH_LIMIT + 1)])
    assert [len(b["customer_ids"]) for b in bodies[2:]] == [BATCH_LIMIT, 1]  # type: ignore[arg-type]
    with pytest.raises(KeyServiceUnavailable, match="answered 503"):
        await store.keys_for(["down"])
