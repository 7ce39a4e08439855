"""Profiles: input validated with the libraries made for it, normalized before it is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from contacts.profiles import (
    RegisterContact,
    UpdateContact,
    contact_point_hash,
    register,
    update,
)
from dialog_schemas.common import CustomerKind
from dialogkit.codec import validation_detail
from dialogkit.rules import Conflict, InFuture, NotFound

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
VALID = {"kind": "consumer", "name": "Kim Doe"}


def test_phone_numbers_are_normalized_to_e164() -> None:
    command = RegisterContact.model_validate(
        VALID | {"phone_numbers": ["030 1234567", "+49 (0)151 1234 5678", "+1 650-253-0000"]}
    )
    assert command.phone_numbers == ["+49301234567", "+4915112345678", "+16502530000"]


def test_email_addresses_are_checked_and_normalized() -> None:
    command = RegisterContact.model_validate(VALID | {"email_addresses": ["Kim.Doe@Example.ORG"]})
    assert command.email_addresses == ["Kim.Doe@example.org"]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("phone_numbers", ["12"], "not a valid phone number"),
        ("phone_numbers", ["call me"], "not a valid phone number"),
        ("email_addresses", ["kim@@example.org"], "invalid characters"),
        ("email_addresses", ["kim@localhost"], "should have a period"),
        ("time_zone", "Mars/Olympus", "IANA time zone"),
        ("kind", "robot", "consumer"),
    ],
)
def test_a_wrong_value_names_its_field(field: str, value: object, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterContact.model_validate(VALID | {field: value})
    [detail] = validation_detail(caught.value)
    assert detail["field"].split(".")[0] == field
    assert problem in detail["problem"]


def test_registering_twice_is_a_conflict() -> None:
    command = RegisterContact.model_validate(VALID)
    assert register(False, command, NOW).registered_at == NOW
    with pytest.raises(Conflict):
        register(True, command, NOW)
    with pytest.raises(InFuture):
        register(False, command.model_copy(update={"registered_at": NOW + timedelta(1)}), NOW)


def test_an_update_names_only_what_changed() -> None:
    event = update(True, UpdateContact(time_zone="Europe/Vienna"), NOW)
    assert event.time_zone == "Europe/Vienna"
    assert event.name is None
    with pytest.raises(Conflict, match="changes nothing"):
        update(True, UpdateContact(), NOW)
    with pytest.raises(NotFound):
        update(False, UpdateContact(name="X"), NOW)


def test_the_kind_can_be_corrected() -> None:
    event = update(True, UpdateContact.model_validate({"kind": "business"}), NOW)
    assert (event.kind, event.updated_at, event.name) == (CustomerKind.BUSINESS, NOW, None)
    with pytest.raises(ValidationError):
        UpdateContact.model_validate({"kind": "robot"})


def test_contact_point_hashes_are_salted_and_case_blind() -> None:
    assert contact_point_hash("Kim@example.org", "s1") == contact_point_hash(
        "kim@example.org", "s1"
    )
    assert contact_point_hash("kim@example.org", "s1") != contact_point_hash(
        "kim@example.org", "s2"
    )
    assert len(contact_point_hash("+49301234567", "s1")) == 64


def test_a_merge_needs_two_active_customers_that_differ() -> None:
    from contacts.profiles import MergeContacts, merge
    from dialogkit.rules import RuleViolation

    command = MergeContacts(merged_customer_id="c-2")
    assert merge("c-1", True, True, command, NOW).merged_customer_id == "c-2"
    with pytest.raises(RuleViolation, match="into itself"):
        merge("c-2", True, True, command, NOW)
    with pytest.raises(NotFound, match="c-1"):
        merge("c-1", False, True, command, NOW)
    with pytest.raises(NotFound, match="c-2"):
        merge("c-1", True, False, command, NOW)
