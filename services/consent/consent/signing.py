"""The consent service's public signing key, and checking a proof bundle offline with it.

`GET /v1/signing-key` publishes the key every consent event and chain head is signed with;
`python -m consent verify-proof FILE --public-key KEY.pem` checks a proof bundle (the JSON of
`GET /v1/customers/{id}/proof`) without any service: every event's signature, every link of each
customer's chain, the signed heads, and that the bundle's events are exactly the chained ones.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel

from consent.ledger import verify_chain
from dialogkit.auth import scope
from dialogkit.http import Runtime
from dialogkit.ledger import LedgerVerifier, load_public_key, public_pem

router = APIRouter(prefix="/v1", tags=["consent"])


class SigningKey(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key_pem: str
    """SubjectPublicKeyInfo PEM: give it to `verify-proof` or to a consumer's LEDGER_PUBLIC_KEY."""


@router.get("/signing-key", dependencies=[scope("consent:read")])
async def get_signing_key(runtime: Runtime) -> SigningKey:
    """The public key consent events, chain heads and proof bundles are signed with."""
    verifier = runtime.settings.ledger_verifier()
    return SigningKey(key_id=verifier.key_id, public_key_pem=public_pem(verifier.public_key))


def verify_bundle(bundle: dict[str, Any], verifier: LedgerVerifier) -> list[str]:
    """Every problem with a proof bundle's ledger; empty when nothing was added, removed or
    altered since the consent service signed it."""
    section = bundle.get("ledger")
    if not isinstance(section, dict) or not isinstance(section.get("chains"), list):
        return ["the bundle carries no ledger"]
    problems: list[str] = []
    if section.get("key_id") != verifier.key_id:
        problems.append(f"signed with key {section.get('key_id')}, checked with {verifier.key_id}")
    chained: dict[str, None] = {}
    for chain in section["chains"]:
        try:
            problems += verify_chain(chain, verifier)
            chained.update(dict.fromkeys(e["event_id"] for e in chain["events"]))
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"a chain is malformed: {error!r}")
    listed = [e.get("event_id") for e in bundle.get("events", [])]
    unproven = [e for e in listed if e not in chained]
    unlisted = [e for e in chained if e not in set(listed)]
    if unproven:
        problems.append(f"events in the bundle but in no signed chain: {unproven}")
    if unlisted:
        problems.append(f"chained events missing from the bundle's events: {unlisted}")
    return problems


def verify_proof(argv: Sequence[str]) -> int:
    """`verify-proof FILE --public-key KEY.pem`: 0 when the bundle verifies, 1 with the
    problems otherwise, 2 when the files cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m consent verify-proof")
    parser.add_argument("file", type=Path, help="a proof bundle (JSON)")
    parser.add_argument(
        "--public-key", type=Path, required=True, help="the consent service's public key (PEM)"
    )
    args = parser.parse_args(argv)
    try:
        verifier = LedgerVerifier(load_public_key(args.public_key.read_bytes()))
        bundle = orjson.loads(args.file.read_bytes())
    except (OSError, ValueError) as error:
        print(f"cannot read: {error}", file=sys.stderr)
        return 2
    problems = verify_bundle(bundle if isinstance(bundle, dict) else {}, verifier)
    if problems:
        print(f"NOT VERIFIED: {len(problems)} problem(s)", *problems, sep="\n  ")
        return 1
    chains = bundle["ledger"]["chains"]
    count = sum(len(c["events"]) for c in chains)
    print(f"verified: {count} event(s) in {len(chains)} chain(s), signed by {verifier.key_id}")
    return 0
