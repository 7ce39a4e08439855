"""Every command endpoint of every service, with a valid body, and values generated to break them.

Shared by the property-based tests: the unit one (no 500, every accepted event travels) and the
integration one (every accepted event is applied by every projection that reads it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from campaigns.bootstrap import DEFINITION as CAMPAIGNS
from consent.bootstrap import DEFINITION as CONSENT
from contacts.bootstrap import DEFINITION as CONTACTS
from dialogkit.service import ServiceDefinition
from interactions.bootstrap import DEFINITION as INTERACTIONS

KNOWN = "c-1"
"""A registered customer (the fake pool knows it)."""
NEW = "c-new"
"""A customer registered by the example itself."""
EVIDENCE = {
    "medium": "web_form",
    "wording_version": "v1",
    "wording_sha256": "ab" * 32,
    "captured_at": "2026-01-06T10:00:00Z",
    "source_ref": "form-1",
    "actor": "web",
}
CONSENT_ID = "0b6b6c8e-6a0e-4c55-9a4c-8d9f0f1e2a3b"


@dataclass(frozen=True)
class Command:
    service: ServiceDefinition
    method: str
    path: str
    body: dict[str, Any] | None


COMMANDS = [
    Command(
        CONTACTS,
        "POST",
        f"/v1/customers/{NEW}",
        {
            "kind": "consumer",
            "name": "Erika Muster",
            "birth_date": "1980-02-29",
            "addresses": [
                {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}
            ],
            "phone_numbers": ["030 1234567"],
            "email_addresses": ["erika@example.org"],
            "social_handles": [{"platform": "x", "handle": "@erika"}],
            "preferred_language": "de",
            "time_zone": "Europe/Berlin",
            "interests": ["mobile"],
            "customer_since": "2020-01-01",
            "registered_at": "2026-01-01T10:00:00Z",
        },
    ),
    Command(
        CONTACTS,
        "PATCH",
        f"/v1/customers/{KNOWN}",
        {"name": "Erika M", "phone_numbers": ["0151 77482508"], "birth_date": "1980-03-01"},
    ),
    Command(
        CONTACTS,
        "POST",
        f"/v1/customers/{KNOWN}/purchases",
        {
            "purchase_id": "p-1",
            "product_id": "prod-1",
            "product_name": "Flat XL",
            "category": "mobile",
            "purchased_at": "2026-01-02T10:00:00Z",
            "sales_channel": "web_shop",
            "email_address": "erika@example.org",
            "objection_notice_given": True,
        },
    ),
    Command(
        CONTACTS,
        "POST",
        f"/v1/customers/{KNOWN}/contracts",
        {
            "contract_id": "k-1",
            "product_id": "prod-1",
            "category": "mobile",
            "started_at": "2026-01-02T10:00:00Z",
            "sales_channel": "phone",
        },
    ),
    Command(
        CONTACTS,
        "POST",
        f"/v1/customers/{KNOWN}/cancellations",
        {
            "contract_id": "k-1",
            "cancelled_at": "2026-01-03T10:00:00Z",
            "effective_on": "2026-02-01",
            "reason": "too expensive",
        },
    ),
    Command(
        CONTACTS,
        "POST",
        f"/v1/customers/{KNOWN}/cancellation-withdrawals",
        {"contract_id": "k-1", "withdrawn_at": "2026-01-04T10:00:00Z"},
    ),
    Command(CONTACTS, "POST", f"/v1/customers/{KNOWN}/merge", {"merged_customer_id": "c-2"}),
    Command(
        CONSENT,
        "POST",
        f"/v1/customers/{KNOWN}/consents",
        {
            "channel": "email",
            "purpose": "marketing",
            "evidence": EVIDENCE,
            "contact_point": "erika@example.org",
            "lifts_objection": False,
        },
    ),
    Command(
        CONSENT,
        "POST",
        f"/v1/customers/{KNOWN}/consents/{CONSENT_ID}/confirmation",
        {"source_ref": "doi-1", "confirmed_at": "2026-01-07T10:00:00Z"},
    ),
    Command(
        CONSENT,
        "POST",
        f"/v1/customers/{KNOWN}/withdrawals",
        {"via_channel": "email", "channel": "email", "purpose": "marketing", "source_ref": "x"},
    ),
    Command(
        CONSENT,
        "POST",
        f"/v1/customers/{KNOWN}/objections",
        {"via_channel": "phone", "objected_at": "2026-01-05T10:00:00Z", "source_ref": "call-9"},
    ),
    Command(
        CONSENT,
        "POST",
        f"/v1/customers/{KNOWN}/consents/{CONSENT_ID}/uses",
        {"reference": "out-1", "purpose": "marketing", "used_at": "2026-01-08T10:00:00Z"},
    ),
    Command(
        INTERACTIONS,
        "POST",
        "/v1/touchpoints",
        {
            "customer_id": KNOWN,
            "touchpoint_id": "t-1",
            "channel": "phone",
            "direction": "outbound",
            "occurred_at": "2026-01-02T10:00:00Z",
            "purpose": "marketing",
            "summary": "asked about the tariff",
            "details": {
                "kind": "call",
                "agent_id": "agent-7",
                "queue": "sales",
                "duration_s": 60,
                "disposition": "sale",
                "phone_number": "+4915177482508",
            },
            "campaign_id": "cmp-1",
        },
    ),
    Command(
        INTERACTIONS,
        "POST",
        f"/v1/customers/{KNOWN}/contract-confirmations",
        {"touchpoint_id": "t-1", "sent_via": "email", "sent_at": "2026-01-03T10:00:00Z"},
    ),
    Command(
        CAMPAIGNS,
        "POST",
        "/v1/campaigns",
        {
            "campaign_id": "cmp-new",
            "name": "Spring offer",
            "channel": "phone",
            "purpose": "marketing",
            "product_category": "mobile",
            "message_ref": "script-1",
            "starts_at": "2026-03-01T09:00:00Z",
            "ends_at": "2026-03-29T02:30:00+01:00",
            "audience": {
                "rule": {
                    "kinds": ["consumer"],
                    "customer_for_days": 30,
                    "holds_any": ["mobile"],
                    "time_zones": ["Europe/Berlin", "America/"],
                    "not_contacted": {"channel": "phone", "within_days": 14},
                },
                "include_ids": [KNOWN],
                "exclude_ids": ["c-2"],
            },
            "frequency_caps": {"per_channel": {"limit": 2, "window_days": 30}},
            "deadline_hours": 72,
        },
    ),
    Command(
        CAMPAIGNS,
        "PATCH",
        "/v1/campaigns/cmp-draft",
        {
            "name": "Spring offer 2",
            "ends_at": "2199-12-31T23:00:00Z",
            "audience": {"rule": {"time_zones": ["Europe/"], "interests_any": ["mobile"]}},
            "trigger": {"on": "contract_cancelled", "categories": ["mobile"], "delay_s": 3600},
        },
    ),
    Command(
        CAMPAIGNS, "POST", "/v1/campaigns/cmp-running/launch", {"due_from": "2026-12-01T10:00:00Z"}
    ),
    Command(CAMPAIGNS, "POST", "/v1/campaigns/cmp-running/pause", None),
    Command(CAMPAIGNS, "POST", "/v1/campaigns/cmp-paused/resume", None),
    Command(CAMPAIGNS, "POST", "/v1/campaigns/cmp-running/stop", None),
]

SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "Erika\x00Muster",
    "\ud800",
    "a\udfffb",
    "\x1b[31m\x07",
    "\u202eevil",
    "pii:v1:k1:AAAA",
    "pii:v1:" + "x" * 64 + ":" + "A" * 200,
    "x" * 300,
    "y" * 5000,
    "49 151 77482508",
    "+49 30 1234567890123",
    "0049 151 77482508",
    "Kim.Doe@Example.ORG",
    "a@b",
    "Europe/Berlin\x00",
    "../../etc/passwd",
]
SPECIAL_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "2026-03-29T02:30:00",
    "2026-03-29T02:30:00+01:00",
    "2026-10-25T02:30:00+02:00",
    "2026-10-25T02:30:00+01:00",
    "2026-01-02",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "1700000000",
]
SPECIAL_NUMBERS = [2**53, 2**63, 2**64, 2**70, -1, 0.5, 1e308, True, None]
SPECIAL = [*SPECIAL_TEXT, *SPECIAL_TIMES, *SPECIAL_NUMBERS, ["\x00"], {"x": 1}]
"""Every one of them is put at every position of every command's body by the sweep."""
texts = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(
        st.characters(codec="utf-8", categories=("Cc", "Cf", "L", "N", "P", "Zs")), max_size=40
    ),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
)
times = st.one_of(
    st.sampled_from(SPECIAL_TIMES),
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(
        lambda d, minutes: (
            d.isoformat()
            + f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        ),
        st.datetimes(),
        st.integers(min_value=-23 * 60, max_value=23 * 60),
    ),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**53, 2**63, 2**64, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
values = st.one_of(texts, times, numbers, st.none(), st.lists(texts, max_size=3))


def like(value: Any) -> st.SearchStrategy[Any]:
    """Values of the kind a position holds, most likely to slip through its type."""
    if isinstance(value, int):  # bools too
        return numbers
    if isinstance(value, str) and value[:4].isdigit() and value[4:5] == "-":
        return times
    if isinstance(value, str):
        return texts
    if isinstance(value, list):
        return st.lists(st.one_of(texts, times), min_size=1, max_size=3)
    return values


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON document where a value can be replaced."""
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


WRONG_KIND = [None, "", "\x00", "\ud800", 2**70, ["\x00"], {"x": 1}]
"""Put at every position whatever it holds: a value of another kind, or text a column refuses."""


def specials_for(valid: Any) -> list[Any]:
    """The special values worth putting where `valid` stands: those of its kind (text, time or
    number) and the values of every other kind; a list or object position gets all of them."""
    if isinstance(valid, bool | int | float):
        return [*SPECIAL_NUMBERS, *WRONG_KIND]
    if isinstance(valid, str):
        try:
            datetime.fromisoformat(valid)
        except ValueError:
            return [*SPECIAL_TEXT, *WRONG_KIND]
        return [*SPECIAL_TIMES, *WRONG_KIND]
    return SPECIAL


def variations(body: Any) -> list[Any]:
    """The body with each of its positions in turn holding each special value for it."""
    return [
        replaced(body, path, value)
        for path in leaves(body)[1:]
        for value in specials_for(value_at(body, path))
    ]


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@st.composite
def broken_commands(draw: st.DrawFn) -> tuple[Command, str]:
    """A command endpoint and a JSON body with one to three values replaced by generated ones."""
    command = draw(st.sampled_from(COMMANDS))
    body: Any = command.body
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(leaves(body)[1:] or [()]))
        body = replaced(body, path, draw(st.one_of(like(value_at(body, path)), values)))
    return command, json.dumps(body)  # ASCII: surrogates travel as \\ud800 escapes
