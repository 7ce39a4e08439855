"""Signed events: the consent service signs what it publishes, every consumer checks it.

A record of a signed topic (`TopicContract.signed`) carries, besides its CloudEvents headers,
`ledger-signature` (base64 of the Ed25519 signature over the record value, the structured-mode
event) and `ledger-key-id` (the signing key's id). A record whose signature is missing or does
not verify with the consent service's public key is refused with reason `bad_signature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dialogkit.codec import CE_PREFIX, EVENT_FORMAT, DecodeError
from dialogkit.records import SourceRecord
from dialogkit.tokens import local_signing_key

if TYPE_CHECKING:
    from dialogkit.config import ServiceSettings
    from dialogkit.projection import Projection

SIGNATURE_HEADER = "ledger-signature"
KEY_ID_HEADER = "ledger-key-id"
BAD_SIGNATURE = "bad_signature"

Headers = list[tuple[str, bytes]]


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of SHA-256 of its bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), as other systems load it."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError for anything else."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the ledger public key is not an Ed25519 key")
    return key


def private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8); ValueError for anything else."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the ledger signing key is not an Ed25519 private key")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key (PEM, PKCS#8) in a file; ValueError for anything else."""
    return private_key(path.read_bytes())


def local_ledger_key(path: Path) -> Ed25519PrivateKey:
    """The local development ledger key at `path`, made (mode 0600) on first use."""
    return local_signing_key(path)


class LedgerSigner:
    """Signs record values with the consent service's private key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        """The base64 Ed25519 signature of `message`."""
        return base64.b64encode(self._key.sign(message)).decode()

    def headers(self, value: bytes) -> Headers:
        """The headers that make a record with this value verifiable."""
        return [
            (SIGNATURE_HEADER, self.sign(value).encode()),
            (KEY_ID_HEADER, self.key_id.encode()),
        ]


class LedgerVerifier:
    """Checks signatures with the consent service's public key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        self.key_id = key_id(public_key)

    def valid(self, message: bytes, signature: str) -> bool:
        """True when `signature` (base64) is this key's signature of `message`."""
        try:
            self.public_key.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def check(self, record: SourceRecord) -> None:
        """Raise DecodeError `bad_signature` unless the record is a signed structured event."""
        if record.value is None:
            return  # an empty record is refused as such by the decoder
        content_type = _header(record, "content-type")
        binary = not (content_type or "").lower().startswith(EVENT_FORMAT) and any(
            name.lower().startswith(CE_PREFIX) for name, _ in record.headers
        )
        if binary:
            raise DecodeError(BAD_SIGNATURE, "binary-mode events are not signed: refused")
        signature = _header(record, SIGNATURE_HEADER)
        if signature is None:
            raise DecodeError(BAD_SIGNATURE, f"the record has no {SIGNATURE_HEADER} header")
        if not self.valid(record.value, signature):
            raise DecodeError(
                BAD_SIGNATURE, f"the signature does not verify with key {self.key_id}"
            )


def _header(record: SourceRecord, name: str) -> str | None:
    for key, value in record.headers:
        if key.lower() == name:
            return value.decode(errors="replace")
    return None


def ledger_verifier(
    settings: ServiceSettings, projections: Sequence[Projection]
) -> LedgerVerifier | None:
    """The verifier these projections need: None when none reads a signed topic; ValueError at
    start-up when one does and no public key is configured."""
    if not any(p.source.signed_by for p in projections):
        return None
    return settings.ledger_verifier()
