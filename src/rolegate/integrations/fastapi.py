"""FastAPI: :func:`install` once per app, then dependencies that return the caller.

::

    app = FastAPI()
    install(app, verifier=LocalVerifier(rg), decider=LocalDecider(rg))   # embedded, or
    install(app, verifier=RemoteJWKSVerifier(jwks_url, issuer=..., audience=...),
            decider=RemoteDecider(rolegate_url, token=service_token))     # a rolegate server

    CanReadDocuments = Annotated[Principal, Depends(require_permission("documents:read"))]

    @app.get("/documents")
    def list_documents(principal: CanReadDocuments) -> list[Document]: ...

The verifier and decider live on ``app.state``, not in a closure: requirements are declared at
import time, in module-level aliases, before any app or :class:`Rolegate` exists, and each app
(each test) carries its own. Dependencies are plain ``def`` functions, which FastAPI runs in
its threadpool: verifying and deciding may wait on a database, a JWKS fetch or a rolegate
server.

Errors answer as RFC 9457 problem documents (``application/problem+json``), with the same
members and ``type`` URIs as the rolegate server's: refusals (401, 403, 503), every Starlette
``HTTPException`` (an unknown route's 404, a 405 with its ``Allow``, the app's own
``raise HTTPException(...)``), FastAPI's 422 with each validation error in an ``errors`` member,
and an unhandled exception as a 500 that says nothing of its cause (the server logs it; with
``FastAPI(debug=True)`` Starlette's debug page is kept). An app that renders its own errors
passes ``install(app, ..., problem_details=False)``: only refusals are then problem documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from rolegate.audit.origin import Origin
from rolegate.entities import Principal
from rolegate.errors import InvalidConfiguration
from rolegate.integrations._core import (
    AccessRefused,
    Decider,
    Gatekeeper,
    TokenVerifier,
    request_origin,
)
from rolegate.names import parse_permission
from rolegate.problem_types import (
    INTERNAL_ERROR,
    UNEXPECTED_DETAIL,
    http_problem,
    invalid_request,
)

STATE_KEY: Final = "rolegate_gatekeeper"

# auto_error=False: a missing or non-bearer header is refused by the Gatekeeper, as a problem
# document; HTTPBearer still declares the security scheme in the app's OpenAPI.
_bearer = HTTPBearer(auto_error=False, description="A rolegate access token (JWT).")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def install(
    app: FastAPI, *, verifier: TokenVerifier, decider: Decider, problem_details: bool = True
) -> None:
    """Protect ``app`` with ``verifier`` and ``decider``. Refusals, and unless
    ``problem_details`` is off every HTTP error, validation error and unhandled exception,
    answer as problem+json."""
    setattr(app.state, STATE_KEY, Gatekeeper(verifier, decider))
    app.add_exception_handler(AccessRefused, _on_refused)
    if problem_details:
        app.add_exception_handler(HTTPException, _on_http_error)
        app.add_exception_handler(RequestValidationError, _on_validation_error)
        # Starlette answers with this handler, then re-raises for the server to log.
        app.add_exception_handler(Exception, _on_unexpected)


def gatekeeper_of(request: Request) -> Gatekeeper:
    """The :class:`Gatekeeper` that :func:`install` put on the request's app."""
    gatekeeper = getattr(request.app.state, STATE_KEY, None)
    if not isinstance(gatekeeper, Gatekeeper):  # fail closed: a 500, never an open endpoint
        raise InvalidConfiguration("call rolegate.integrations.fastapi.install(app, ...) first")
    return gatekeeper


def current_principal(request: Request, credentials: BearerCredentials) -> Principal:
    """The caller of a valid bearer token (else a 401 problem); no permission is checked."""
    token = credentials.credentials if credentials is not None else None
    return gatekeeper_of(request).authenticate(token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_permission(permission: str) -> Callable[[Request, Principal], Principal]:
    """A dependency returning the caller if it holds ``permission`` in its token's tenant:
    401, 403 or 503 problem otherwise. A malformed name raises here, at import time."""
    parse_permission(permission)

    def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        gatekeeper_of(request).authorize(principal, permission, origin=_origin(request, principal))
        return principal

    dependency.__name__ = dependency.__qualname__ = f"require_permission({permission!r})"
    return dependency


def _origin(request: Request, principal: Principal) -> Origin:
    template = getattr(request.scope.get("route"), "path", request.url.path)
    return request_origin(
        principal,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request.headers.get("x-request-id"),
        route=f"{request.method} {template}",
    )


async def _on_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessRefused)
    return JSONResponse(
        exc.problem,
        status_code=exc.status,
        headers=exc.headers,
        media_type="application/problem+json",
    )


def _problem(document: dict[str, Any], headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        document,
        status_code=document["status"],
        headers=headers,
        media_type="application/problem+json",
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    problem = http_problem(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else problem.title
    headers = dict(exc.headers or {})  # a 405's Allow, a 401's challenge
    if problem.challenge is not None:
        headers.setdefault("WWW-Authenticate", problem.challenge)
    return _problem(problem.document(detail), headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    document = invalid_request(exc.errors())
    return _problem(document)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _problem(INTERNAL_ERROR.document(UNEXPECTED_DETAIL))
