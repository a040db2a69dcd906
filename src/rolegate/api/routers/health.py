"""Probes and the public keys: ``/healthz``, ``/readyz``, ``/.well-known/jwks.json``, open to
anyone (``/metrics`` is not: see :mod:`rolegate.api.routers.metrics`)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from rolegate.api.deps import RolegateDep, public
from rolegate.api.problems import ProblemType, problem_response

router = APIRouter(tags=["health"], dependencies=[Depends(public)])

NOT_READY: Final = ProblemType("not_ready", 503, "Not ready")

# A new key signs at once, so verifiers must refetch on an unknown ``kid`` whatever this says;
# five minutes only spares the database the polling of well-behaved ones.
JWKS_CACHE_CONTROL: Final = "public, max-age=300"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (the database is not asked: see ``/readyz``)."""
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
