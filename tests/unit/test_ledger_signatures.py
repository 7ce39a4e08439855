"""Signed consent events: what the consent service signs verifies; anything else is refused."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dialogkit.codec import DecodeError
from dialogkit.config import ServiceSettings
from dialogkit.ledger import (
    BAD_SIGNATURE,
    SIGNATURE_HEADER,
    LedgerSigner,
    LedgerVerifier,
    load_public_key,
    public_pem,
)
from dialogkit.records import SourceRecord

VALUE = b'{"specversion":"1.0","type":"ConsentGranted"}'
STRUCTURED = ("content-type", b"application/cloudevents+json; charset=utf-8")
SIGNER = LedgerSigner(Ed25519PrivateKey.generate())
VERIFIER = LedgerVerifier(SIGNER.public_key)


def record(value: bytes, headers: list[tuple[str, bytes]]) -> SourceRecord:
    return SourceRecord("consent.events.v1", 0, 0, b"c-1", value, tuple(headers))


def refusal(value: bytes, headers: list[tuple[str, bytes]]) -> DecodeError:
    with pytest.raises(DecodeError) as refused:
        VERIFIER.check(record(value, headers))
    assert refused.value.reason == BAD_SIGNATURE
    return refused.value


def test_a_signed_event_verifies() -> None:
    VERIFIER.check(record(VALUE, [STRUCTURED, *SIGNER.headers(VALUE)]))


def test_an_unsigned_event_is_refused() -> None:
    assert SIGNATURE_HEADER in str(refusal(VALUE, [STRUCTURED]).detail)


def test_an_altered_event_is_refused() -> None:
    refusal(VALUE.replace(b"Granted", b"Revoked"), [STRUCTURED, *SIGNER.headers(VALUE)])


def test_an_event_signed_with_another_key_is_refused() -> None:
    other = LedgerSigner(Ed25519PrivateKey.generate())
    refusal(VALUE, [STRUCTURED, *other.headers(VALUE)])


def test_a_garbled_signature_is_refused() -> None:
    refusal(VALUE, [STRUCTURED, (SIGNATURE_HEADER, b"not base64!")])


def test_a_binary_mode_event_is_refused_as_its_attributes_are_not_signed() -> None:
    data = b'{"consent_id": "x"}'
    refusal(data, [("ce_type", b"ConsentGranted"), *SIGNER.headers(data)])


def test_the_public_key_round_trips_as_pem() -> None:
    assert load_public_key(public_pem(SIGNER.public_key)) == SIGNER.public_key


def test_only_the_signing_service_signs_and_others_check_with_the_public_key(
    tmp_path: Path,
) -> None:
    from consent.config import Settings as Consent
    from interactions.config import Settings as Interactions

    local = tmp_path / "ledger.pem"
    consent = Consent(ledger_local_key_file=local)
    assert set(consent.topic_signers()) == {"consent.events.v1"}
    published = public_pem(consent.ledger_signer().public_key)
    interactions = Interactions(ledger_public_key=published, ledger_local_key_file=None)
    assert interactions.topic_signers() == {}
    assert interactions.ledger_verifier().key_id == consent.ledger_signer().key_id


def test_a_consumer_without_a_key_does_not_start() -> None:
    with pytest.raises(ValueError, match="no ledger public key"):
        ServiceSettings(ledger_local_key_file=None).ledger_verifier()


def test_the_signing_key_can_be_given_as_pem_from_a_secret() -> None:
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    settings = ServiceSettings(ledger_signing_key=pem, ledger_local_key_file=None)
    assert settings.ledger_signer().key_id == LedgerSigner(key).key_id
