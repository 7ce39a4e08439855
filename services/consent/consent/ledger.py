"""The §7a ledger: each customer's signed consent events chained by hash, the chain head signed.

The consent service's history projection is the one writer of a customer's chain: a customer's
events share a partition, which one consumer applies in offset order. Each event the chain has
not seen yet (by event id) is appended:

    digest = SHA-256(record value)            the structured-mode event exactly as published
    hash   = SHA-256(bytes(prev) || digest)   prev = the previous link's hash, 32 zero bytes first

and the head (customer, length, hash) is signed again with the consent service's key. The proof
bundle carries every record, its signature and link, and the signed head; `verify_chain` checks
them offline: an event altered fails its signature, one removed or added breaks the links or
the head.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from dialogkit.ledger import SIGNATURE_HEADER, LedgerSigner, LedgerVerifier
from dialogkit.projection import Decoded

GENESIS = "00" * 32
HEAD_CONTEXT = "dialog-consent-ledger-head-v1"


def link(prev: str, value: bytes) -> str:
    """The hash (hex) of the link that appends a record value to a chain ending in `prev`."""
    return hashlib.sha256(bytes.fromhex(prev) + hashlib.sha256(value).digest()).hexdigest()


def head_message(subject: str, length: int, head: str) -> bytes:
    """What the head signature covers: the customer, the chain's length and its last hash."""
    return f"{HEAD_CONTEXT}\n{subject}\n{length}\n{head}".encode()


async def append(
    connection: asyncpg.Connection, events: Sequence[Decoded], signer: LedgerSigner
) -> None:
    """Append the events not chained yet, in order, to their customers' chains; re-sign heads."""
    subjects = sorted({d.envelope.subject for d in events})
    heads = {
        r["subject"]: (r["length"], r["hash"])
        for r in await connection.fetch(
            "SELECT subject, length, hash FROM consent_ledger_heads"
            " WHERE subject = ANY($1::text[]) ORDER BY subject FOR UPDATE",
            subjects,
        )
    }
    seen = {
        r["event_id"]
        for r in await connection.fetch(
            "SELECT event_id FROM consent_ledger WHERE event_id = ANY($1::uuid[])",
            [d.envelope.id for d in events],
        )
    }
    rows = []
    for d in events:
        if d.envelope.id in seen or d.record.value is None:
            continue  # published again under the same id: chained once
        seen.add(d.envelope.id)
        subject = d.envelope.subject
        length, prev = heads.get(subject, (0, GENESIS))
        hashed = link(prev, d.record.value)
        signature = dict(d.record.headers).get(SIGNATURE_HEADER, b"").decode()
        rows.append((d.envelope.id, subject, length, d.record.value, signature, prev, hashed))
        heads[subject] = (length + 1, hashed)
    if not rows:
        return
    await connection.executemany(
        "INSERT INTO consent_ledger (event_id, subject, seq, record, signature, prev, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rows,
    )
    await connection.executemany(
        "INSERT INTO consent_ledger_heads (subject, length, hash, signature)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO UPDATE SET length = excluded.length,"
        " hash = excluded.hash, signature = excluded.signature, signed_at = now()",
        [
            (s, n, h, signer.sign(head_message(s, n, h)))
            for s, (n, h) in heads.items()
            if s in {row[1] for row in rows}
        ],
    )


async def chains(db: Any, subjects: Sequence[str], key_id: str) -> dict[str, Any]:
    """The ledger section of a proof bundle: each subject's chain and its signed head."""
    found = []
    for subject in subjects:
        head = await db.fetchrow(
            "SELECT length, hash, signature FROM consent_ledger_heads WHERE subject = $1", subject
        )
        if head is None:
            continue
        links = await db.fetch(
            "SELECT event_id, record, signature, prev, hash FROM consent_ledger"
            " WHERE subject = $1 ORDER BY seq",
            subject,
        )
        found.append(
            {
                "subject": subject,
                "events": [
                    {
                        "event_id": str(r["event_id"]),
                        "record": base64.b64encode(r["record"]).decode(),
                        "signature": r["signature"],
                        "prev": r["prev"],
                        "hash": r["hash"],
                    }
                    for r in links
                ],
                "head": dict(head),
            }
        )
    return {"algorithm": "Ed25519", "key_id": key_id, "genesis": GENESIS, "chains": found}


def verify_chain(chain: dict[str, Any], verifier: LedgerVerifier) -> list[str]:
    """Every problem with one chain of a bundle: a bad signature, a broken link, a bad head."""
    subject = chain["subject"]
    problems = []
    prev = GENESIS
    for n, entry in enumerate(chain["events"]):
        try:
            value = base64.b64decode(entry["record"], validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{subject} #{n}: the record is not base64")
            continue
        if not verifier.valid(value, entry["signature"]):
            problems.append(f"{subject} #{n} ({entry['event_id']}): signature does not verify")
        if entry["prev"] != prev:
            problems.append(f"{subject} #{n}: does not follow the previous event (removed?)")
        prev = link(prev, value)
        if entry["hash"] != prev:
            problems.append(f"{subject} #{n}: its hash does not match its content (altered?)")
    head = chain["head"]
    if not verifier.valid(head_message(subject, head["length"], head["hash"]), head["signature"]):
        problems.append(f"{subject}: the chain head's signature does not verify")
    if head["length"] != len(chain["events"]) or head["hash"] != prev:
        problems.append(
            f"{subject}: the signed head names {head['length']} events ending in"
            f" {head['hash'][:12]}…, the bundle holds {len(chain['events'])} ending in"
            f" {prev[:12]}… (events removed or added)"
        )
    return problems
