"""Personal data sealed per customer: round trip, binding to customer and field, shredding."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from dialog_schemas.examples import EXAMPLES
from dialog_schemas.personal import ENCRYPTED_PATTERN
from dialogkit.pii import InMemoryKeyStore, KeyDestroyed, PersonalDataCipher

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = next(e for e in EXAMPLES if e.event_type == "ContactRegistered")
TOUCHPOINT = next(e for e in EXAMPLES if e.event_type == "TouchpointRecorded")


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
