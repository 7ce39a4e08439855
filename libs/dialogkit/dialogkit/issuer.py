"""Checking bearer tokens: a JWT's signature against the issuer's keys, its issuer, audience,
expiry and not-before; the caller and scopes it names."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt

SUBJECT_MAX = 256
"""The longest token subject the audit trail records (`PersonalDataAccessed.actor`)."""


@dataclass(frozen=True)
class Principal:
    """Who called: the token's subject and the scopes it was granted."""

    subject: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes


class Unauthorized(Exception):
    """No token, or one that is not valid here (signature, issuer, audience, time)."""


class Forbidden(Exception):
    """A valid token without a scope the route needs."""


class KeySource(Protocol):
    async def key_for(self, header: dict[str, Any]) -> Any:
        """The public key that verifies a token with this JOSE header; Unauthorized if none."""


@dataclass(frozen=True)
class StaticKey:
    """One public key (PEM, or a cryptography key object) for every token."""

    key: Any

    async def key_for(self, header: dict[str, Any]) -> Any:
        return self.key


class NoKeys:
    """No issuer configured: no token is valid."""

    async def key_for(self, header: dict[str, Any]) -> Any:
        raise Unauthorized("no token issuer configured")


class JwksKeys:
    """The issuer's JSON Web Key Set, fetched over HTTPS and kept for `cache_s`.

    An unknown key id refreshes the set at most every `refresh_min_s`, so a rotated key is
    found without letting forged key ids make the service hammer the issuer."""

    def __init__(
        self,
        url: str,
        *,
        cache_s: float = 300,
        refresh_min_s: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.transport = transport
        self.cache_s = cache_s
        self.refresh_min_s = refresh_min_s
        self._keys: dict[str, Any] = {}
        self._fetched = float("-inf")

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(timeout=10, transport=self.transport) as client:
            response = await client.get(self.url)
        response.raise_for_status()
        found = jwt.PyJWKSet.from_dict(response.json())
        self._keys = {k.key_id or "": k.key for k in found.keys}
        self._fetched = time.monotonic()

    async def key_for(self, header: dict[str, Any]) -> Any:
        kid = str(header.get("kid") or "")
        age = time.monotonic() - self._fetched
        if age > self.cache_s or (kid not in self._keys and age > self.refresh_min_s):
            try:
                await self._refresh()
            except (httpx.HTTPError, jwt.PyJWTError, ValueError) as error:
                if not self._keys:
                    raise Unauthorized(f"issuer keys unavailable: {type(error).__name__}") from None
        if kid in self._keys:
            return self._keys[kid]
        if not kid and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise Unauthorized("token signed with an unknown key")


VERIFIED_KEPT_S = 60
"""How long a verified token is taken on its word (at most until it expires)."""
VERIFIED_KEPT = 4096
"""Verified tokens kept; the least recently verified go first."""


class TokenVerifier:
    """Checks a JWT's signature, issuer, audience, expiry and not-before; returns its caller.

    A token that verified is kept for `VERIFIED_KEPT_S` seconds, never past its expiry (with
    the leeway): the same token string always names the same caller and scopes, and checking
    its signature on every request was the largest single cost of a small read. A key the
    issuer withdraws therefore stops verifying tokens already seen within that minute."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("EdDSA", "ES256", "RS256"),
        leeway_s: float = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway_s = leeway_s
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The caller a token names; Unauthorized with the reason when it is not valid."""
        now = self._clock()
        kept = self._verified.get(token)
        if kept is not None and now < kept[1]:
            self._verified.move_to_end(token)
            return kept[0]
        self._verified.pop(token, None)
        principal, expires = await self._check(token)
        self._verified[token] = (principal, min(expires + self.leeway_s, now + VERIFIED_KEPT_S))
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("not a JWT") from None
        if header.get("alg") not in self.algorithms:
            raise Unauthorized("token signed with an algorithm not accepted here")
        key = await self.keys.key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(type(error).__name__) from None
        subject = str(claims["sub"])
        if not 0 < len(subject) <= SUBJECT_MAX or "\x00" in subject:
            # the audit trail records the subject; one it cannot store names nobody
            raise Unauthorized(f"the token's subject is empty, over {SUBJECT_MAX} or holds NUL")
        return Principal(subject, granted_scopes(claims)), float(claims["exp"])


def granted_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from `scope` (RFC 9068: space-separated) or `scp` (a list, as some issuers send)."""
    given = claims.get("scope", claims.get("scp", ""))
    if isinstance(given, str):
        return frozenset(given.split())
    if isinstance(given, list):
        return frozenset(str(s) for s in given)
    return frozenset()


# --- routes -----------------------------------------------------------------------------------
