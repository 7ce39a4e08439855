"""Phone numbers and email addresses as people type them, normalized the one way events hold them.

Phone numbers are parsed with `phonenumbers`: a number written with `+` or `00` and its country
code is read as that; one written with a leading `0` is read as a national number of
`DEFAULT_REGION` (Germany). A number written with neither (`49 151 77482508`) has two readings,
the national one (`+49 49151…`) and the international one without its `+` (`+49 151…`): where
only one of them is a valid number it is taken, where both are the input is refused as
ambiguous, saying how to write it. Numbers longer than E.164 allows (15 digits) are refused,
even where the library would call them valid. Email addresses are checked and normalized with
`email-validator` (syntax only: no DNS lookups).
"""

from __future__ import annotations

import re
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, StringConstraints

from dialog_schemas.common import NO_NUL

DEFAULT_REGION = "DE"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
HOW_TO_WRITE = (
    "write it with + and the country code (+49 151 23456789) or, for a German number, with its"
    " leading 0 (0151 23456789)"
)
TYPED = StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)
"""What a typed phone number or address may be before it is parsed."""


def _reading(text: str, region: str | None) -> str | None:
    """The number in E.164 if `text` read this way is a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value: str) -> str:
    """The number in E.164 (`+4915177482508`); ValueError saying how to write it otherwise."""
    text = value.strip()
    readings = {_reading(text, DEFAULT_REGION)}
    if text[:1].isdigit() and not text.startswith("0"):  # no +, 00 or 0: a missing +?
        readings.add(_reading(f"+{text}", None))
    valid = sorted(r for r in readings if r is not None)
    if not valid:
        raise ValueError(f"{value!r} is not a valid phone number; {HOW_TO_WRITE}")
    if len(valid) > 1:
        raise ValueError(
            f"{value!r} is ambiguous: it may mean {' or '.join(valid)}; {HOW_TO_WRITE}"
        )
    [number] = valid
    if not E164.match(number):
        digits = len(number) - 1
        raise ValueError(
            f"{value!r} has {digits} digits; an international number has at most 15 (E.164)"
        )
    return number


def normalize_email(value: str) -> str:
    """The address as email-validator normalizes it; ValueError saying what is wrong."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def normalize_contact_point(value: str) -> str:
    """An email address (it has an @) or a phone number, normalized."""
    return normalize_email(value) if "@" in value else normalize_phone(value)


Phone = Annotated[str, TYPED, AfterValidator(normalize_phone)]
"""A phone number as typed; validated and normalized to E.164."""
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=254, pattern=NO_NUL),
    AfterValidator(normalize_email),
]
"""An email address as typed; validated and normalized."""
ContactPoint = Annotated[
    str,
    StringConstraints(min_length=1, max_length=254, pattern=NO_NUL),
    AfterValidator(normalize_contact_point),
]
"""A phone number or an email address as typed, normalized."""
