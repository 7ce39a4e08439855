"""Personal data: fields marked here are encrypted per customer on the wire and found by exports.

A field is personal when its annotation carries `PERSONAL`, most easily written `Personal[...]`.
In the generated JSON Schema such a field has `"x-personal-data": true`, and it accepts either
the plain value or its encrypted form (`pii:v1:<key id>:<base64url of nonce and ciphertext>`),
because producers that hold the customer's data key replace the plain value with it. Models
accept both forms too: a consumer without the key validates an event and sees the sealed string.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

PERSONAL_DATA = "x-personal-data"
PLAIN_TAG = "plain"
SEALED_TAG = "sealed"
"""How validation errors name the two alternatives of a personal field."""
ENCRYPTED_PATTERN = r"^pii:v1:[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]+$"
ENCRYPTED_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": ENCRYPTED_PATTERN,
    "description": "The value, encrypted with the customer's data key (AES-GCM).",
}


class PersonalData:
    """Annotation marker: the annotated value is personal data about the event's subject."""

    def __repr__(self) -> str:
        return "PERSONAL"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """The plain value, or its sealed form: consumers without the key still validate."""
        plain = handler(source)
        sealed = core_schema.str_schema(pattern=ENCRYPTED_PATTERN)
        return core_schema.union_schema(
            [(plain, PLAIN_TAG), (sealed, SEALED_TAG)], metadata={"personal_plain": plain}
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        plain = handler(schema["metadata"]["personal_plain"])
        return {"anyOf": [plain, ENCRYPTED_SCHEMA], PERSONAL_DATA: True}


PERSONAL = PersonalData()
T = TypeVar("T")
Personal = Annotated[T, PERSONAL]


@cache
def personal_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """Dotted paths of a model's fields that hold personal data, nested value objects included.

    A path names a field of the model or of a value object inside it (`details.phone_number`);
    a list of value objects that is personal as a whole is one path (`addresses`).
    """
    paths: list[str] = []
    for name, info in model.model_fields.items():
        if PERSONAL in info.metadata or _marked(info.annotation):
            paths.append(name)
            continue
        for inner in _models_in(info.annotation):
            paths += [f"{name}.{path}" for path in personal_fields(inner) if path not in paths]
    return tuple(dict.fromkeys(paths))


def _marked(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated and any(
        isinstance(m, PersonalData) for m in annotation.__metadata__
    ):
        return True
    return any(_marked(arg) for arg in typing.get_args(annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
