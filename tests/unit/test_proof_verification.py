"""`verify-proof`: a bundle as the consent service signed it passes; one event removed, altered
or added, or a check with another key, fails."""

from __future__ import annotations

import base64
import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.ledger import GENESIS, head_message, link
from consent.signing import verify_bundle, verify_proof
from dialog_schemas import Envelope
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import ConsentRevoked
from dialogkit.codec import encode
from dialogkit.ledger import LedgerSigner, LedgerVerifier, public_pem

SIGNER = LedgerSigner(Ed25519PrivateKey.generate())
VERIFIER = LedgerVerifier(SIGNER.public_key)
CUSTOMER = "c-1"


def record(n: int) -> tuple[str, bytes]:
    event_id = uuid.uuid4()
    envelope = Envelope.wrap(
        ConsentRevoked(
            consent_id=uuid.uuid4(),
            channel=Channel.PHONE,
            purpose=Purpose.MARKETING,
            revoked_at=datetime(2026, 1, n + 1, tzinfo=UTC),
            via_channel=Channel.PHONE,
        ),
        id=event_id,
        source="/consent/api",
        subject=CUSTOMER,
        time=datetime(2026, 1, n + 1, tzinfo=UTC),
    )
    return str(event_id), encode(envelope)


def bundle(count: int = 3) -> dict[str, Any]:
    """A bundle as the consent service makes it: signed records, linked, the head signed."""
    events = []
    prev = GENESIS
    for n in range(count):
        event_id, value = record(n)
        hashed = link(prev, value)
        events.append(
            {
                "event_id": event_id,
                "record": base64.b64encode(value).decode(),
                "signature": SIGNER.sign(value),
                "prev": prev,
                "hash": hashed,
            }
        )
        prev = hashed
    head = {
        "length": count,
        "hash": prev,
        "signature": SIGNER.sign(head_message(CUSTOMER, count, prev)),
    }
    chain = {"subject": CUSTOMER, "events": events, "head": head}
    return {
        "customer_id": CUSTOMER,
        "events": [{"event_id": e["event_id"], "type": "ConsentRevoked"} for e in events],
        "ledger": {"algorithm": "Ed25519", "key_id": SIGNER.key_id, "chains": [chain]},
    }


def chain_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = document["ledger"]["chains"][0]["events"]
    return events


def without_event(document: dict[str, Any], n: int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    removed = chain_events(changed).pop(n)
    changed["events"] = [e for e in changed["events"] if e["event_id"] != removed["event_id"]]
    return changed


def test_a_bundle_as_signed_verifies() -> None:
    assert verify_bundle(bundle(), VERIFIER) == []


@pytest.mark.parametrize("n", [0, 1, 2])
def test_a_bundle_with_one_event_removed_fails(n: int) -> None:
    assert verify_bundle(without_event(bundle(), n), VERIFIER)


def test_a_bundle_with_one_event_removed_from_its_listing_only_fails() -> None:
    changed = bundle()
    changed["events"].pop(1)
    assert any("missing from the bundle" in p for p in verify_bundle(changed, VERIFIER))


def test_a_bundle_with_one_event_altered_fails() -> None:
    changed = bundle()
    entry = chain_events(changed)[1]
    value = base64.b64decode(entry["record"]).replace(b"2026-01-02", b"2026-01-09")
    entry["record"] = base64.b64encode(value).decode()
    problems = verify_bundle(changed, VERIFIER)
    assert any("signature does not verify" in p for p in problems)


def test_an_altered_event_relinked_and_resigned_by_another_key_fails() -> None:
    forger = LedgerSigner(Ed25519PrivateKey.generate())
    changed = bundle()
    entry = chain_events(changed)[-1]
    value = base64.b64decode(entry["record"]).replace(b"2026-01-03", b"2026-01-09")
    entry["record"] = base64.b64encode(value).decode()
    entry["signature"] = forger.sign(value)
    entry["hash"] = link(entry["prev"], value)
    head = changed["ledger"]["chains"][0]["head"]
    head["hash"] = entry["hash"]
    head["signature"] = forger.sign(head_message(CUSTOMER, 3, entry["hash"]))
    assert len(verify_bundle(changed, VERIFIER)) == 2, "the event's and the head's signatures"


def test_a_bundle_with_an_event_added_fails() -> None:
    changed = bundle()
    event_id, value = record(7)
    last = chain_events(changed)[-1]
    chain_events(changed).append(
        {
            "event_id": event_id,
            "record": base64.b64encode(value).decode(),
            "signature": SIGNER.sign(value),  # even a genuine signature: the head says 3
            "prev": last["hash"],
            "hash": link(last["hash"], value),
        }
    )
    changed["events"].append({"event_id": event_id, "type": "ConsentRevoked"})
    assert any("removed or added" in p for p in verify_bundle(changed, VERIFIER))


def test_a_bundle_checked_with_another_key_fails() -> None:
    other = LedgerVerifier(Ed25519PrivateKey.generate().public_key())
    assert verify_bundle(bundle(), other)


def test_a_bundle_without_a_ledger_fails() -> None:
    assert verify_bundle({"events": []}, VERIFIER) == ["the bundle carries no ledger"]


def test_the_command_line_says_verified_or_lists_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.pem"
    key.write_text(public_pem(SIGNER.public_key))
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(orjson.dumps(bundle()))
    bad.write_bytes(orjson.dumps(without_event(bundle(), 1)))
    assert verify_proof([str(good), "--public-key", str(key)]) == 0
    assert "verified: 3 event(s) in 1 chain(s)" in capsys.readouterr().out
    assert verify_proof([str(bad), "--public-key", str(key)]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
    assert verify_proof([str(tmp_path / "missing.json"), "--public-key", str(key)]) == 2
