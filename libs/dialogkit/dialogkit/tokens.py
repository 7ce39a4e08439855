"""Tokens: the local development key, minting, and tokens for calls to other services."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LOCAL_ISSUER = "urn:dialog:local-development"
"""The issuer of tokens signed with the local development key (`make token`)."""
PLATFORM_AUDIENCE = "dialog-platform"
PLATFORM_SCOPES: tuple[str, ...] = (
    *("consent:read", "consent:write", "consent:proof", "consent:read-personal"),
    *("contacts:read", "contacts:write", "contacts:erase", "contacts:export"),
    *("contacts:read-personal", "contacts:audit", "contacts:suppression"),
    *("interactions:read", "interactions:write", "interactions:read-personal"),
    *("campaigns:read", "campaigns:write", "campaigns:launch"),
    "data-keys",
)
"""Every scope the platform's APIs check (docs/security.md says which route needs which)."""


def local_signing_key(path: Path) -> Ed25519PrivateKey:
    """The local development signing key at `path`, made (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600, exist_ok=True)
        path.write_bytes(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def mint(
    key: Ed25519PrivateKey,
    *,
    subject: str,
    scopes: Sequence[str],
    issuer: str = LOCAL_ISSUER,
    audience: str = PLATFORM_AUDIENCE,
    lifetime_s: int = 3600,
    now: float | None = None,
) -> str:
    """A token signed with a local key (EdDSA): for development, tests and service calls."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_s,
    }
    return jwt.encode(claims, key, algorithm="EdDSA")


# --- tokens for calls to other services ------------------------------------------------------


class TokenSource(Protocol):
    async def token(self) -> str:
        """A bearer token valid for at least the next minute."""


class StaticToken:
    """A token given as is (tests, or an operator-issued long-lived token)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token


class NoTokens:
    """No way to get a token configured: each call fails, saying what to set."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def token(self) -> str:
        raise RuntimeError(self.reason)


class LocalTokens:
    """Tokens this process signs with the local development key, renewed before they expire."""

    def __init__(
        self, key: Ed25519PrivateKey, *, subject: str, scopes: Sequence[str], audience: str
    ) -> None:
        self._key = key
        self._subject = subject
        self._scopes = list(scopes)
        self._audience = audience
        self._cached: tuple[float, str] | None = None

    async def token(self) -> str:
        if self._cached is None or time.monotonic() > self._cached[0]:
            token = mint(
                self._key, subject=self._subject, scopes=self._scopes, audience=self._audience
            )
            self._cached = (time.monotonic() + 3000, token)
        return self._cached[1]


class ClientCredentials:
    """Tokens from the issuer's token endpoint (OAuth2 client credentials, RFC 6749 §4.4)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token_url = token_url
        self.transport = transport
        self._auth = (client_id, client_secret)
        self.scopes = list(scopes)
        self._cached: tuple[float, str] | None = None

    async def token(self) -> str:
        if self._cached is None or time.monotonic() > self._cached[0]:
            async with httpx.AsyncClient(timeout=10, transport=self.transport) as client:
                response = await client.post(
                    self.token_url,
                    data={"grant_type": "client_credentials", "scope": " ".join(self.scopes)},
                    auth=self._auth,
                )
            response.raise_for_status()
            body = response.json()
            lifetime = float(body.get("expires_in", 300))
            renew_at = time.monotonic() + max(lifetime - 60, lifetime / 2)
            self._cached = (renew_at, str(body["access_token"]))
        return self._cached[1]


class BearerAuth(httpx.Auth):
    """httpx authentication that sends a fresh token from a TokenSource."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {await self.source.token()}"
        yield request
