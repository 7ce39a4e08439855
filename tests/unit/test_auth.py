"""Bearer tokens and scopes: who may call which route, and what a refusal says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from fastapi import APIRouter
from fastapi.testclient import TestClient

from dialogkit.auth import declared_scopes
from dialogkit.config import ServiceSettings
from dialogkit.http import create_api
from dialogkit.issuer import JwksKeys, TokenVerifier, Unauthorized
from dialogkit.service import ServiceDefinition
from dialogkit.tokens import (
    LOCAL_ISSUER,
    PLATFORM_AUDIENCE,
    PLATFORM_SCOPES,
    ClientCredentials,
    local_signing_key,
    mint,
)
from tests.fakes import FakePool, FakeRuntimes
from tests.support import KEY_FILE, token

TOUCHPOINT = {
    "customer_id": "c-1",
    "touchpoint_id": "call-1",
    "channel": "phone",
    "direction": "inbound",
    "occurred_at": "2026-11-20T10:00:00Z",
    "summary": "asked about the tariff",
}
CONSENT = {
    "channel": "phone",
    "purpose": "advertising",
    "evidence": {},
}


class FakeRuntime(FakeRuntimes):
    pass


def definitions() -> list[ServiceDefinition]:
    from devstack.stack import definitions

    return definitions()


def client_for(service: str, fake: FakeRuntime | None = None) -> TestClient:
    definition = next(d for d in definitions() if d.name == service)
    app = create_api(
        service, definition.settings(), definition.routers, runtime_factory=fake or FakeRuntime()
    )
    return TestClient(app)


@pytest.fixture
def interactions() -> Iterator[tuple[TestClient, FakeRuntime]]:
    fake = FakeRuntime()
    with client_for("interactions", fake) as client:
        yield client, fake


def signed(**changes: Any) -> dict[str, str]:
    """Headers with a token signed by the trusted key, its claims changed as given."""
    now = int(time.time())
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": PLATFORM_AUDIENCE,
        "sub": "agent-7",
        "scope": "interactions:write",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **changes,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    encoded = jwt.encode(claims, local_signing_key(KEY_FILE), algorithm="EdDSA")
    return {"Authorization": f"Bearer {encoded}"}


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_valid_token_with_the_scope_is_let_through(
    interactions: tuple[TestClient, FakeRuntime],
) -> None:
    client, _ = interactions
    assert client.post("/v1/touchpoints", json=TOUCHPOINT, headers=signed()).status_code == 202


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("no token", {}),
        ("not a JWT", {"Authorization": "Bearer local-dev-token"}),
        ("expired", signed(exp=int(time.time()) - 3600)),
        ("not yet valid", signed(nbf=int(time.time()) + 3600)),
        ("wrong issuer", signed(iss="https://someone-else.example/")),
        ("wrong audience", signed(aud="another-platform")),
        ("no audience", signed(aud=None)),
        ("no expiry", signed(exp=None)),
        ("no subject", signed(sub=None)),
        ("a subject the audit trail cannot store", signed(sub="agent\u00007")),
        ("a subject too long to record", signed(sub="a" * 257)),
    ],
)
def test_a_request_without_a_valid_token_is_401(
    interactions: tuple[TestClient, FakeRuntime], case: str, headers: dict[str, str]
) -> None:
    client, fake = interactions
    assert_refused(client.post("/v1/touchpoints", json=TOUCHPOINT, headers=headers), 401)
    assert fake.publisher.sent == {}


def test_a_token_signed_with_another_key_is_401(
    interactions: tuple[TestClient, FakeRuntime],
) -> None:
    client, _ = interactions
    forged = mint(Ed25519PrivateKey.generate(), subject="mallory", scopes=PLATFORM_SCOPES)
    headers = {"Authorization": f"Bearer {forged}"}
    assert_refused(client.post("/v1/touchpoints", json=TOUCHPOINT, headers=headers), 401)


def test_an_unsigned_token_is_401(interactions: tuple[TestClient, FakeRuntime]) -> None:
    client, _ = interactions
    claims = {"iss": LOCAL_ISSUER, "aud": PLATFORM_AUDIENCE, "sub": "x", "exp": 2**40}
    unsigned = jwt.encode(claims | {"scope": "interactions:write"}, None, algorithm="none")
    headers = {"Authorization": f"Bearer {unsigned}"}
    assert_refused(client.post("/v1/touchpoints", json=TOUCHPOINT, headers=headers), 401)


def test_a_token_without_the_routes_scope_is_403(
    interactions: tuple[TestClient, FakeRuntime],
) -> None:
    client, fake = interactions
    response = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=token("interactions:read"))
    assert_refused(response, 403)
    assert "interactions:write" in response.json()["detail"]
    assert fake.publisher.sent == {}


def test_a_consent_read_token_cannot_write() -> None:
    with client_for("consent") as client:
        response = client.post(
            "/v1/customers/c-1/consents", json=CONSENT, headers=token("consent:read")
        )
        assert_refused(response, 403)
        withdrawal = client.post(
            "/v1/customers/c-1/withdrawals", json={}, headers=token("consent:read")
        )
        assert_refused(withdrawal, 403)


def test_a_service_token_without_the_data_key_scope_cannot_read_a_key() -> None:
    reader = token("contacts:read", "contacts:read-personal", subject="service:interactions")
    with client_for("contacts") as client:
        assert_refused(client.get("/v1/data-keys/c-1", headers=reader), 403)
        assert_refused(client.post("/v1/data-keys/c-1", headers=reader), 403)


def test_refusals_say_nothing_about_the_resource() -> None:
    """A 401 or 403 reads the same whichever customer was asked about."""
    with client_for("contacts") as client:
        for headers, status in (({}, 401), (token("consent:read"), 403)):
            answers = [
                client.get(f"/v1/customers/{customer}", headers=headers)
                for customer in ("c-1", "no-such-customer")
            ]
            assert {a.status_code for a in answers} == {status}
            assert answers[0].json() == answers[1].json()
            assert "c-1" not in answers[0].text


def test_probes_metrics_and_docs_need_no_token(
    interactions: tuple[TestClient, FakeRuntime],
) -> None:
    client, _ = interactions
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("service", ["consent", "contacts", "interactions", "campaigns"])
def test_every_route_of_every_service_declares_its_scopes(service: str) -> None:
    definition = next(d for d in definitions() if d.name == service)
    for router in definition.routers:
        for route in router.routes:
            scopes = declared_scopes(route)  # type: ignore[arg-type]
            assert scopes, f"{service} {route.path}"  # type: ignore[attr-defined]
            assert set(scopes) <= set(PLATFORM_SCOPES), scopes


def test_an_api_with_an_undeclared_route_is_refused() -> None:
    router = APIRouter()

    @router.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    settings = ServiceSettings(auth_local_key_file=KEY_FILE)
    with pytest.raises(RuntimeError, match="/v1/forgotten declares no scope"):
        create_api("interactions", settings, [router], runtime_factory=FakeRuntime())


def test_the_docs_name_each_routes_scope() -> None:
    with client_for("consent") as client:
        operation = client.get("/openapi.json").json()["paths"]["/v1/customers/{customer_id}/proof"]
        assert "`consent:proof`" in operation["get"]["description"]


async def test_keys_of_an_issuer_are_read_from_its_jwks() -> None:
    """An RS256 token of an outside issuer, its key found by key id in the issuer's JWKS."""
    private = generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    asked: list[str] = []

    def issuer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"keys": [jwk | {"kid": "k1", "use": "sig"}]})

    keys = JwksKeys("https://login.example/jwks", transport=httpx.MockTransport(issuer))
    verifier = TokenVerifier(keys, issuer="https://login.example/", audience="dialog-platform")
    claims = {
        "iss": "https://login.example/",
        "aud": "dialog-platform",
        "sub": "crm-tool",
        "scp": ["contacts:read"],
        "exp": int(time.time()) + 60,
    }
    good = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})
    principal = await verifier.verify(good)
    assert (principal.subject, principal.scopes) == ("crm-tool", frozenset({"contacts:read"}))
    await verifier.verify(good)
    assert len(asked) == 1  # the key set is kept
    unknown = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k2"})
    with pytest.raises(Unauthorized):
        await verifier.verify(unknown)


async def test_service_tokens_come_from_the_token_endpoint_with_exact_scopes() -> None:
    asked: list[bytes] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        asked.append(request.content)
        assert request.headers["authorization"].startswith("Basic ")
        return httpx.Response(200, json={"access_token": "t-1", "expires_in": 300})

    source = ClientCredentials(
        "https://login.example/token",
        "consent",
        "s3cr3t",
        ["data-keys"],
        transport=httpx.MockTransport(endpoint),
    )
    assert await source.token() == "t-1"
    assert await source.token() == "t-1"
    assert asked == [b"grant_type=client_credentials&scope=data-keys"]


def test_each_service_calls_others_with_only_the_scopes_it_needs() -> None:
    from contacts.export import PEER_SCOPES
    from dialogkit.config import DATA_KEYS_SCOPE

    assert PEER_SCOPES == {
        "consent": ("consent:read", "consent:proof", "consent:read-personal"),
        "interactions": ("interactions:read", "interactions:read-personal"),
        "campaigns": ("campaigns:read",),
    }
    for definition in definitions():
        settings = definition.settings()
        if definition.name != "contacts":
            keys = settings.key_store(None)
            assert keys.peer.auth.source._scopes == [DATA_KEYS_SCOPE]  # type: ignore[attr-defined]


class MergedPool(FakePool):
    """Knows one merged duplicate, `dup-1`, merged into `c-1`."""

    async def fetchval(self, sql: str, *args: Any, **_: Any) -> Any:
        if "FROM customer_merges" in sql:
            return "c-1" if args[0] == "dup-1" else None
        return await super().fetchval(sql, *args)


def test_the_token_is_checked_before_anything_is_said_about_a_merged_customer() -> None:
    fake = FakeRuntime()
    fake.pool = MergedPool()
    with client_for("contacts", fake) as client:
        for headers, status in (({}, 401), (token("consent:read"), 403)):
            answer = client.get("/v1/customers/dup-1", headers=headers)
            assert answer.status_code == status
            assert "c-1" not in answer.text
        allowed = client.get("/v1/customers/dup-1", headers=token("contacts:read"))
        assert allowed.status_code == 410
        assert allowed.json()["merged_into"] == "c-1"


async def test_a_verified_token_is_kept_only_until_it_expires() -> None:
    """A token seen before is not checked again within a minute, and never past its expiry."""
    private = Ed25519PrivateKey.generate()
    looked_up: list[dict[str, Any]] = []

    class CountingKeys:
        async def key_for(self, header: dict[str, Any]) -> Any:
            looked_up.append(header)
            return private.public_key()

    now = [time.time()]
    verifier = TokenVerifier(
        CountingKeys(), issuer="iss", audience="aud", leeway_s=30, clock=lambda: now[0]
    )
    claims = {"iss": "iss", "aud": "aud", "sub": "crm", "scope": "consent:read"}
    lasting = jwt.encode(claims | {"exp": int(time.time()) + 3600}, private, algorithm="EdDSA")
    for _ in range(3):
        assert (await verifier.verify(lasting)).scopes == frozenset({"consent:read"})
    assert len(looked_up) == 1
    now[0] += 61  # a minute on, the token is checked again
    await verifier.verify(lasting)
    assert len(looked_up) == 2
    short = jwt.encode(claims | {"exp": int(time.time()) + 5}, private, algorithm="EdDSA")
    now[0] = time.time()
    await verifier.verify(short)
    now[0] += 5 + 30 + 1  # past its expiry and the leeway: never answered from what was kept
    await verifier.verify(short)  # the clock of jwt itself is real time: still valid there
    assert len(looked_up) == 4
    forged = jwt.encode(
        claims | {"exp": int(time.time()) + 3600}, Ed25519PrivateKey.generate(), algorithm="EdDSA"
    )
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await verifier.verify(forged)
    assert len(looked_up) == 6, "a token that failed is checked every time"
