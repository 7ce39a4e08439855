"""Read queries of the interactions service: the timeline and compliance findings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from dialog_schemas.common import Channel, Direction
from dialogkit.keys import KeyDestroyed
from dialogkit.pii import PREFIX, PersonalDataCipher
from dialogkit.problems import Problem


class TimelineEntry(BaseModel):
    entry_id: UUID
    occurred_at: datetime
    kind: str
    channel: str | None
    direction: str | None
    summary: str
    source: str
    source_ref: str | None
    correlation_id: UUID


class TimelinePage(BaseModel):
    customer_id: str
    entries: list[TimelineEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class TimelineFilters:
    channel: list[Channel] | None = None
    direction: Direction | None = None
    kind: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


async def timeline_page(
    db: Any,
    cipher: PersonalDataCipher | None,
    customer_id: str,
    limit: int,
    cursor: str | None,
    wanted: TimelineFilters,
) -> TimelinePage:
    """The customer's timeline, newest first (by when entries happened), filtered, paged.

    Notes are opened here, each owner's key asked for once; an erased owner's notes are gone
    (`KeyDestroyed`), and a key service that does not answer makes the read 503. Without a
    cipher (a caller who may not see personal data) entries come without their notes."""
    channel, direction, kind = wanted.channel, wanted.direction, wanted.kind
    since, until = wanted.since, wanted.until
    filters = {
        "channel": sorted(c.value for c in channel or []),
        "direction": direction.value if direction else None,
        "kind": sorted(kind or []),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    fingerprint = hashlib.sha256(orjson.dumps(filters)).hexdigest()[:16]
    after_time, after_id = decode_cursor(cursor, fingerprint) if cursor else (None, None)
    rows = await db.fetch(
        "SELECT entry_id, occurred_at, kind, channel, direction, summary, source, source_ref,"
        " correlation_id, note, note_owner, answer FROM timeline_entries WHERE customer_id = $1"
        " AND ($2::timestamptz IS NULL OR (occurred_at, entry_id) < ($2, $3::uuid))"
        " AND (cardinality($5::text[]) = 0 OR channel = ANY($5))"
        " AND ($6::text IS NULL OR direction = $6)"
        " AND (cardinality($7::text[]) = 0 OR kind = ANY($7))"
        " AND ($8::timestamptz IS NULL OR occurred_at >= $8)"
        " AND ($9::timestamptz IS NULL OR occurred_at < $9)"
        " ORDER BY occurred_at DESC, entry_id DESC LIMIT $4",
        customer_id,
        after_time,
        after_id,
        limit + 1,
        filters["channel"],
        filters["direction"],
        filters["kind"],
        since,
        until,
    )
    notes = (
        await open_notes(cipher.batch(), customer_id, rows[:limit])
        if cipher is not None
        else {r["entry_id"]: None for r in rows[:limit]}
    )
    entries = [
        TimelineEntry(**(dict(r) | {"summary": with_note(r["summary"], notes[r["entry_id"]])}))
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    last = entries[-1] if entries else None
    return TimelinePage(
        customer_id=customer_id,
        entries=entries,
        next_cursor=(
            encode_cursor(last.occurred_at, last.entry_id, fingerprint) if more and last else None
        ),
    )


async def open_notes(
    cipher: PersonalDataCipher, customer_id: str, rows: Sequence[Any]
) -> dict[UUID, str | None]:
    """Each entry's note (and survey answer), opened with its owner's data key; None where
    there is none to show."""
    notes: dict[UUID, str | None] = {}
    for row in rows:
        owner = row["note_owner"] or customer_id
        note = await _opened(cipher, owner, "summary", row["note"])
        answer = await _opened(cipher, owner, "survey.free_text", row["answer"])
        shown = [note] if note else []
        shown += [f"answer: {answer}"] if answer else []
        notes[row["entry_id"]] = "; ".join(shown) or None
    return notes


async def _opened(
    cipher: PersonalDataCipher, owner: str, path: str, value: str | None
) -> str | None:
    """A sealed value opened as the field `path` it was sealed as; None once its key is gone."""
    if value is None or not value.startswith(PREFIX):
        return value
    *parents, last = path.split(".")
    sealed: dict[str, object] = {last: value}
    for parent in reversed(parents):
        sealed = {parent: sealed}
    try:
        opened: object = await cipher.open(owner, sealed)
    except KeyDestroyed:
        return None
    for part in path.split("."):
        assert isinstance(opened, dict)
        opened = opened[part]
    return str(opened)


def with_note(summary: str, note: str | None) -> str:
    return f"{summary}: {note}" if note else summary


def encode_cursor(occurred_at: datetime, entry_id: UUID, filters: str = "") -> str:
    """An opaque position in a timeline: the last entry a page returned, and its filters."""
    raw = orjson.dumps([occurred_at.isoformat(), str(entry_id), filters])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: str = "") -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, entry_id, issued_for = orjson.loads(raw)
        position = datetime.fromisoformat(occurred_at), UUID(entry_id)
        if position[0].tzinfo is None:
            raise ValueError("cursor time without zone")
    except (ValueError, TypeError) as error:
        raise Problem(
            400, "Invalid cursor", "cursor is not one this API returned", field="cursor"
        ) from error
    if issued_for != filters:
        raise Problem(
            400,
            "Invalid cursor",
            "the cursor was issued for other filters; repeat the filters of the first page",
            field="cursor",
        )
    return position


class Finding(BaseModel):
    finding_id: UUID
    customer_id: str
    touchpoint_id: str
    channel: str
    purpose: str
    reason: str
    occurred_at: datetime


class FindingsPage(BaseModel):
    findings: list[Finding]
    next_cursor: str | None


FINDINGS = (
    "SELECT finding_id, customer_id, touchpoint_id, channel, purpose, reason, occurred_at"
    " FROM compliance_findings WHERE ($1::text IS NULL OR customer_id = $1)"
    " AND ($2::timestamptz IS NULL OR (occurred_at, finding_id) < ($2, $3::uuid))"
    " ORDER BY occurred_at DESC, finding_id DESC LIMIT $4"
)


async def findings_page(
    db: Any, customer_id: str | None, limit: int, cursor: str | None
) -> FindingsPage:
    """Compliance findings (of one customer, or all), newest first, a page at a time."""
    scope = f"findings:{customer_id or '*'}"
    after_time, after_id = decode_cursor(cursor, scope) if cursor else (None, None)
    rows = await db.fetch(FINDINGS, customer_id, after_time, after_id, limit + 1)
    found = [Finding(**dict(r)) for r in rows[:limit]]
    last = found[-1] if found and len(rows) > limit else None
    return FindingsPage(
        findings=found,
        next_cursor=encode_cursor(last.occurred_at, last.finding_id, scope) if last else None,
    )
