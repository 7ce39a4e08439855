"""Request size and nesting limits, enforced before a route reads its body.

A body larger than `max_bytes` is refused with 413, whether it declares its length or streams
it; a JSON body nested deeper than `max_depth` is refused with 422. Either is a problem
document, and neither costs more memory than `max_bytes`.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, Field

from dialogkit.problems import PROBLEM_JSON

MAX_ITEMS = 100
T = TypeVar("T")
Few = Annotated[list[T], Field(max_length=MAX_ITEMS)]
"""A list in a command: at most `MAX_ITEMS` items (422 naming the field beyond)."""


def _lists_within(value: Any, path: str) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _lists_within(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple | set | frozenset):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{path}: at most {MAX_ITEMS} items, got {len(value)}")
        for item in value:
            _lists_within(item, path)


def _bounded(model: Any) -> Any:
    _lists_within(model, "")
    return model


FewItems = AfterValidator(_bounded)
"""For a body model shared with an event contract, whose lists cannot carry `Few` without
changing the contract: `Annotated[Model, FewItems]` refuses any list longer than `MAX_ITEMS`."""

Scope = dict[str, Any]
Message = dict[str, Any]
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings ignored)."""
    brackets = _STRINGS.sub(b"", body).translate(None, _BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


class TooLarge(Exception):
    pass


class BodyLimits:
    """ASGI middleware: at most `max_bytes` of body per request, JSON at most `max_depth` deep."""

    def __init__(self, app: Any, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, "Request too large", self._too_large())
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send, 413, "Request too large", self._too_large())
                return
        if b"json" in headers.get(b"content-type", b"") and nesting_depth(bytes(body)) > (
            self.max_depth
        ):
            detail = f"the JSON body nests deeper than {self.max_depth} levels"
            await self._refuse(send, 422, "Invalid request", detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                message: Message = await receive()
                return message
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, send: Any, status: int, title: str, detail: str) -> None:
        document = orjson.dumps(
            {"type": "about:blank", "title": title, "status": status, "detail": detail}
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(document)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": document})
