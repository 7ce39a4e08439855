"""OAuth2 bearer tokens: JWTs checked against the configured issuer, scopes declared per route.

A route declares what it needs once, `dependencies=[scope("consent:read")]`; `create_api`
refuses a route without a declaration. A route that answers with personal data names its
personal fields (`personal=`): callers without `<service>:read-personal` get the answer without
them. A route that reads or changes personal data names its audit action (`audit=`); the HTTP
shell records who did it, to which customer, when and with what outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from dialogkit.issuer import Forbidden, Principal, TokenVerifier, Unauthorized
from dialogkit.problems import PROBLEM_JSON

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect"})
"""Paths answered without a token: probes, metrics (no customer data) and the API docs."""
PRINCIPAL = "dialog.principal"
REDACT = "dialog.redact"
AUDIT = "dialog.audit"


_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


@dataclass(frozen=True)
class AuditMark:
    """What the HTTP shell records about a request once it is answered."""

    action: str
    subject: str
    personal_shown: bool
    """Whether the caller may see personal fields (`<service>:read-personal`)."""


class Authorize:
    """The dependency behind `scope(...)`: a valid token with every scope the route needs."""

    def __init__(self, personal: Sequence[str], audit: str | None) -> None:
        self.personal = tuple(personal)
        self.audit = audit

    async def __call__(
        self,
        request: Request,
        security_scopes: SecurityScopes,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        checked: Principal | None = request.scope.get(PRINCIPAL)
        if checked is not None:  # `authorize_route` checked this declaration already
            return checked
        return await self.check(request, security_scopes.scopes, credentials)

    async def check(
        self,
        request: Request,
        scopes: Sequence[str],
        credentials: HTTPAuthorizationCredentials | None,
    ) -> Principal:
        """The caller, if the token is valid and carries `scopes`; marks personal data and audit."""
        if credentials is None:
            raise Unauthorized("no bearer token")
        verifier: TokenVerifier = request.app.state.verifier
        principal = await verifier.verify(credentials.credentials)
        service = scopes[0].split(":")[0]
        shown = principal.has(f"{service}:read-personal")
        if self.audit:
            request.scope[AUDIT] = AuditMark(self.audit, principal.subject, shown)
        missing = [s for s in scopes if not principal.has(s)]
        if missing:
            raise Forbidden(" ".join(missing))
        if self.personal and not shown:
            request.scope[REDACT] = self.personal
        request.scope[PRINCIPAL] = principal
        return principal


def scope(*required: str, personal: Sequence[str] = (), audit: str | None = None) -> Any:
    """The declaration of what a route needs: `dependencies=[scope("consent:read")]`.

    `personal` names the answer's personal fields, left out for callers without the service's
    `read-personal` scope; `audit` names the action the audit trail records for the request.
    """
    if not required:
        raise ValueError("a route needs at least one scope")
    return Security(Authorize(personal, audit), scopes=list(required))


async def caller(request: Request) -> Principal:
    principal: Principal = request.scope[PRINCIPAL]
    return principal


Caller = Annotated[Principal, Depends(caller)]
"""The authenticated caller, for routes that need to know who asks (after `scope`)."""


def _declarations(route: Any) -> list[tuple[Authorize, list[str]]]:
    found: list[tuple[Authorize, list[str]]] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Authorize):
            found.append((dependant.call, list(dependant.own_oauth_scopes or ())))
        pending += dependant.dependencies
    return found


_declared: dict[int, tuple[Any, list[tuple[Authorize, list[str]]]]] = {}
"""Each route's declarations by the route's id, with the route (routes compare by value)."""


def _declarations_of(route: Any) -> list[tuple[Authorize, list[str]]]:
    """`_declarations`, found once per route (they do not change once the app is built)."""
    kept = _declared.get(id(route))
    if kept is None or kept[0] is not route:
        kept = _declared[id(route)] = (route, _declarations(route))
    return kept[1]


def declared_scopes(route: Any) -> list[str]:
    """The scopes a route declares through `scope(...)`; empty when it declares none."""
    return [s for _, scopes in _declarations(route) for s in scopes]


async def authorize_route(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Router-level: the route's declaration checked before any other dependency looks at the
    resource (a merged customer's 410, say), so a refusal says nothing about it."""
    for authorize, scopes in _declarations_of(request.scope["route"]):
        await authorize.check(request, scopes, credentials)


def check_declarations(app: FastAPI) -> None:
    """Refuse an API with a route that declares no scope, and name the scopes in its docs."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path in OPEN_PATHS:
            continue
        scopes = declared_scopes(context)
        if not scopes:
            raise RuntimeError(
                f"route {sorted(context.methods or ())} {context.path} declares no scope; add "
                "dependencies=[scope(...)] (dialogkit.auth)"
            )
        note = f"Requires scope: {', '.join(f'`{s}`' for s in scopes)}."
        if note not in (route.description or ""):
            route.description = f"{route.description}\n\n{note}".strip()


def refusal_document(
    status: int, title: str, detail: str, **headers: str
) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return body, headers


def refusal(error: Unauthorized | Forbidden) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, problem document and headers of a refused request; nothing about the resource."""
    if isinstance(error, Unauthorized):
        body, headers = refusal_document(
            401,
            "Unauthorized",
            "send a valid bearer token: 'Authorization: Bearer <token>'",
            **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
        return 401, body, headers
    body, headers = refusal_document(
        403,
        "Forbidden",
        f"the token lacks a scope this route needs: {error}",
        **{"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{error}"'},
    )
    return 403, body, headers


async def authorize_header(
    verifier: TokenVerifier, authorization: str | None, required: Sequence[str]
) -> Principal:
    """The check `scope(...)` makes, for servers outside FastAPI (the workers' pages)."""
    kind, _, credentials = (authorization or "").partition(" ")
    if kind.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("no bearer token")
    principal = await verifier.verify(credentials.strip())
    missing = [s for s in required if not principal.has(s)]
    if missing:
        raise Forbidden(" ".join(missing))
    return principal


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Verify tokens with `verifier`; 401/403 as problems that say nothing about the resource."""
    app.state.verifier = verifier

    @app.exception_handler(Unauthorized)
    @app.exception_handler(Forbidden)
    async def refused(request: Request, error: Unauthorized | Forbidden) -> JSONResponse:
        status, body, headers = refusal(error)
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
