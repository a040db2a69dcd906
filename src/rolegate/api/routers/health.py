"""Probes, the public keys and the discovery document: ``/healthz``, ``/readyz``,
``/.well-known/jwks.json``, ``/.well-known/openid-configuration``, open to anyone (``/metrics``
is not: see :mod:`rolegate.api.routers.metrics`)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from rolegate.api.deps import RolegateDep, public
from rolegate.api.origin import public_url
from rolegate.api.problems import ProblemType, problem_response

router = APIRouter(tags=["health"], dependencies=[Depends(public)])

NOT_READY: Final = ProblemType("not_ready", 503, "Not ready")

# A new key signs at once, so verifiers must refetch on an unknown ``kid`` whatever this says;
# five minutes only spares the database the polling of well-behaved ones.
JWKS_CACHE_CONTROL: Final = "public, max-age=300"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (the database is not asked: see `/readyz`)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses={200: {"description": "Ready", "content": {"application/json": {}}}},
)
def readyz(rolegate: RolegateDep) -> JSONResponse:
    """Ready when the database answers, its schema is current and the policy has been
    confirmed current within the staleness bound; else a 503 problem."""
    ready, schema = rolegate.readiness()
    if schema == "stale":
        seconds = rolegate.freshness.seconds_since_confirmed
        return problem_response(NOT_READY, f"policy not confirmed current for {seconds:.1f} s")
    if not ready:
        return problem_response(NOT_READY, f"database schema: {schema}")
    return JSONResponse({"status": "ready", "schema": schema})


@router.get(
    "/.well-known/jwks.json",
    response_model=None,
    responses={200: {"description": "A JWK Set", "content": {"application/json": {}}}},
)
def jwks(rolegate: RolegateDep) -> JSONResponse:
    """The public keys that verify access tokens, as a JWK Set (RFC 7517)."""
    keys: dict[str, Any] = rolegate.auth.jwks()
    return JSONResponse(keys, headers={"Cache-Control": JWKS_CACHE_CONTROL})


@router.get(
    "/.well-known/openid-configuration",
    response_model=None,
    responses={200: {"description": "Discovery metadata", "content": {"application/json": {}}}},
)
def openid_configuration(request: Request, rolegate: RolegateDep) -> JSONResponse:
    """Where verifiers find the issuer and its keys (OpenID Connect Discovery 1.0 §3)."""
    trusted = request.app.state.trusted_proxies
    peer = request.client.host if request.client else None

    def url_of(route: str) -> str:
        return str(public_url(request.url_for(route), peer, request.headers, trusted))

    algorithm = rolegate.settings.token_algorithm
    document = {
        "issuer": rolegate.settings.token_issuer,
        "jwks_uri": url_of("jwks"),
        "token_endpoint": url_of("login"),
        # Informational from here on. rolegate is no OpenID provider: it has no authorization
        # endpoint and issues no ID tokens. The members below are required by §3, so they say
        # what is true of its access tokens: login answers with a bearer token at once (the
        # nearest response type is "token"), signed with the configured algorithm; ``sub`` is
        # the user's id, the same for every client ("public"); the login endpoint
        # authenticates the user, never a client ("none").
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [algorithm],
        "token_endpoint_auth_methods_supported": ["none"],
    }
    return JSONResponse(document, headers={"Cache-Control": JWKS_CACHE_CONTROL})
