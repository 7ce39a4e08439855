"""No personal data in logs: representative commands and reads of every service's API, valid
and refused, carry a distinctive name, phone number, email address, free-text note and
survey-like answer; every logger of the process is captured at DEBUG and each record, written
as the services write it (`dialogkit.logs.JsonFormatter`), must contain none of them.

The services run in-process over the unit tests' fakes (`tests.fakes`); the workers' log files
are checked by the end-to-end test of the data-subject rights, which runs them as processes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from campaigns.bootstrap import DEFINITION as CAMPAIGNS
from dialog_schemas.contacts import ContactRegistered
from dialogkit.jobs import record_failed
from tests.commands import COMMANDS, KNOWN, Command
from tests.fakes import FakeRuntimes, client_of, fake_app
from tests.support import LogLines, every_log_record

NAME = "Xaverine Quoddle"
PHONE, PHONE_DIGITS = "+49 151 2468 1357", "4915124681357"
EMAIL = "xaverine.quoddle@example.org"
NOTE = "Xaverine mentioned her divorce and asked to call back after the court date"
SURVEY = "I would rate the hotline 2 of 10 because Quoddle family debts came up"
PERSONAL = (NAME, "Quoddle", PHONE, PHONE_DIGITS, "2468 1357", EMAIL, NOTE, SURVEY, "divorce")
FORMS = sorted({form for v in PERSONAL for form in (v, quote(v), quote_plus(v))})
"""Each value as written, and as it appears in a URL."""
PLACED = {
    "name": NAME,
    "phone_numbers": [PHONE],
    "email_addresses": [EMAIL],
    "email_address": EMAIL,
    "contact_point": EMAIL,
    "phone_number": PHONE,
    "reason": NOTE,
    "summary": SURVEY,
}
"""Where a command body holds personal data, the distinctive value put there."""


Apps = dict[str, tuple[FastAPI, FakeRuntimes]]


@pytest.fixture
def apps() -> Apps:
    """Every service's API over fakes (made first: making one configures the process's logs)."""
    made = {c.service.name: fake_app(c.service, command_wait_s=0) for c in COMMANDS}
    made["campaigns"] = fake_app(CAMPAIGNS, command_wait_s=0)
    return made


@pytest.fixture
def logs(apps: Apps) -> Iterator[LogLines]:
    """Every record of every logger, at DEBUG, as the services would write it."""
    with every_log_record() as kept:
        yield kept


def personal(body: Any) -> Any:
    """The body with the distinctive values wherever it holds personal data."""
    if isinstance(body, dict):
        return {k: PLACED[k] if k in PLACED else personal(v) for k, v in body.items()}
    if isinstance(body, list):
        return [personal(v) for v in body]
    return body


def refused(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Bodies a command refuses with personal data in them: a value in the wrong field, and
    the personal fields each given what their type does not take."""
    for key in body:
        wrong = copy.deepcopy(body)
        wrong[key] = {"note": NOTE, "who": NAME, "phone": PHONE, "email": EMAIL}
        yield wrong
    for key in PLACED.keys() & body.keys():
        wrong = copy.deepcopy(body)
        wrong[key] = f"{NOTE} {EMAIL} {PHONE} " * 40 if isinstance(body[key], str) else NOTE
        yield wrong


READS = [
    ("contacts", f"/v1/customers/{KNOWN}"),
    ("contacts", "/v1/contact-points", {"phone": PHONE}),
    ("contacts", "/v1/contact-points", {"email": EMAIL}),
    ("contacts", f"/v1/customers/{KNOWN}/export"),
    ("consent", f"/v1/customers/{KNOWN}/consents"),
    ("consent", f"/v1/customers/{KNOWN}/proof"),
    ("consent", "/v1/eligibility", {"customer_id": KNOWN, "channel": "email", "purpose": NOTE}),
    ("interactions", f"/v1/customers/{KNOWN}/timeline"),
    ("campaigns", f"/v1/customers/{KNOWN}/outreach"),
]


async def run_flows(apps: Apps) -> None:
    for service, (app, fakes) in apps.items():
        fakes.pool.register(KNOWN)
        commands: list[Command] = [c for c in COMMANDS if c.service.name == service]
        async with client_of(app) as client:
            for command in commands:
                body = personal(command.body)
                for sent in (body, *refused(body)) if body is not None else (None,):
                    await client.request(command.method, command.path, json=sent)
                await client.request(command.method, command.path, content=f'{{"x": "{NOTE}"')
            for read in READS:
                if read[0] == service:
                    params = read[2] if len(read) > 2 else None  # type: ignore[misc]
                    await client.get(read[1], params=params)


def test_no_personal_value_reaches_any_log_record(apps: Apps, logs: LogLines) -> None:
    asyncio.run(run_flows(apps))
    assert logs.lines, "the flows were logged at all"
    leaked = [(value, line) for line in logs.lines for value in FORMS if value in line]
    assert not leaked, leaked[:5]


def test_an_error_that_quotes_personal_data_is_logged_without_it(logs: LogLines) -> None:
    """A validation error's text quotes the values it refused; a job logs the error's text."""
    refused = {"kind": "consumer", "name": {"note": NOTE}, "email_addresses": [f"{NAME} {EMAIL}"]}
    with pytest.raises(ValidationError) as raised:
        ContactRegistered.model_validate(refused | {"phone_numbers": [PHONE + " x"]})
    assert any(value in str(raised.value) for value in PERSONAL), "the error quotes them"
    record_failed("dispatch", "outreach-1", raised.value)
    try:
        raise RuntimeError("could not decide") from raised.value
    except RuntimeError:
        logging.getLogger("campaigns.dispatcher").exception("periodic job failed")
    assert any("record skipped by job" in line for line in logs.lines)
    leaked = [(value, line) for line in logs.lines for value in FORMS if value in line]
    assert not leaked, leaked[:5]
