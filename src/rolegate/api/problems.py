"""Errors as RFC 9457 problem documents (``application/problem+json``), from one table.

Every problem has ``type``, ``title``, ``status``, ``detail`` and ``code``. ``type`` names the
problem type, one per entry of :data:`PROBLEMS` (what a client must do about it); ``code`` is the
error's own stable code (``user_not_found`` under the type ``not_found``). Server-side failures
(5xx) never say more than their title: the cause is logged, not sent. A database failure is
a 503 with ``Retry-After`` wherever it happens, and says so when a change may have committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from rolegate.api.allow import allowed_methods
from rolegate.errors import (
    AccountChangeDenied,
    AlreadyExists,
    AuthenticationFailed,
    CommitOutcomeUnknown,
    ConcurrentChange,
    Conflict,
    EscalationDenied,
    Forbidden,
    InvalidConfiguration,
    InvalidInput,
    InvalidPassword,
    InvalidToken,
    LoginNameTaken,
    LoginThrottled,
    NotFound,
    PasswordChangeRequired,
    PermissionNotFound,
    PolicyStale,
    PreconditionFailed,
    RolegateError,
    SchemaNotCurrent,
    StorageError,
)
from rolegate.facade import is_storage_failure

# The shapes every HTTP edge shares, re-exported for the API's modules.
from rolegate.problem_types import HTTP_PROBLEMS as HTTP_PROBLEMS
from rolegate.problem_types import (
    INTERNAL_ERROR,
    REQUEST_INVALID,
    UNEXPECTED_DETAIL,
    http_problem,
    invalid_request,
)
from rolegate.problem_types import ProblemType as ProblemType

log = logging.getLogger("rolegate.api")

#: Seconds a client should wait before retrying a request the database failed (the 503's
#: ``Retry-After``, RFC 9110 §10.2.3): about what a PostgreSQL restart after a crash takes.
STORAGE_RETRY_AFTER: Final = 5
_OUTCOME_UNKNOWN: Final = (
    "the database connection was lost while committing: the change may or may not have been "
    "applied; read the current state before retrying"
)
_BEARER = "Bearer"

#: The one table from rolegate errors to problems; the nearest class in an error's MRO wins.
PROBLEMS: Final[Mapping[type[RolegateError], ProblemType]] = {
    RolegateError: INTERNAL_ERROR,
    NotFound: ProblemType("not_found", 404, "Not found"),
    AlreadyExists: ProblemType("already_exists", 409, "Already exists"),
    InvalidInput: ProblemType("invalid_input", 422, "Invalid input"),
    InvalidPassword: ProblemType("invalid_password", 422, "Password not accepted"),
    # A setting or stored key the server cannot use: the operator's problem, not the caller's.
    InvalidConfiguration: ProblemType("server_misconfigured", 500, "Server misconfigured"),
    AuthenticationFailed: ProblemType("unauthenticated", 401, "Not authenticated", _BEARER),
    InvalidToken: ProblemType(
        "invalid_token", 401, "Invalid token", f'{_BEARER} error="invalid_token"'
    ),
    # The password was right, so the caller *is* authenticated, but must act before getting a
    # session: 403, and no challenge, since other credentials would not help.
    PasswordChangeRequired: ProblemType(
        "password_change_required", 403, "Password change required"
    ),
    # Throttled by client or tenant, never by account (that is the 401 above): 429 + Retry-After.
    LoginThrottled: ProblemType("login_throttled", 429, "Too many login attempts"),
    Forbidden: ProblemType("forbidden", 403, "Forbidden"),
    EscalationDenied: ProblemType("escalation_denied", 403, "Privilege escalation refused"),
    # Names the rule, never what the account holds (the caller may not see its roles).
    AccountChangeDenied: ProblemType("account_change_denied", 403, "Account change refused"),
    LoginNameTaken: ProblemType("login_name_taken", 409, "Login name taken"),
    Conflict: ProblemType("conflict", 409, "Conflict"),
    PreconditionFailed: ProblemType("precondition_failed", 412, "Precondition failed"),
    ConcurrentChange: ProblemType("concurrent_change", 409, "Concurrent change"),
    StorageError: ProblemType("storage_unavailable", 503, "Storage unavailable"),
    SchemaNotCurrent: ProblemType("schema_not_current", 503, "Database schema not current"),
    PolicyStale: ProblemType("policy_stale", 503, "Policy may be stale"),
}


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error of this API is answered."""

    model_config = ConfigDict(extra="allow")  # extension members: errors, rule, missing, ...

    type: str
    title: str
    status: int
    detail: str
    code: str


def _documented(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": Problem.model_json_schema()}},
    }


#: The error responses every route may give, for the OpenAPI document (``include_router``):
#: clients and schema-driven tests learn each status and its problem shape.
ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: _documented("Malformed request (a bad header or cursor)"),
    401: _documented("Missing or bad credentials"),
    403: _documented("Authenticated, but without the permission this needs"),
    404: _documented("Not found (or in another tenant, which reads the same)"),
    409: _documented("Conflicts with the current state"),
    412: _documented("If-Match does not match the current ETag"),
    413: _documented("Body larger than 1 MiB"),
    422: _documented("The request is not valid"),
    503: _documented("Storage unavailable or not ready"),
}
#: The extra response of the routes that check a password.
THROTTLED_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    429: _documented("Too many failed logins from this client or in this tenant (Retry-After)")
}


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = "application/problem+json"


def problem_response(
    problem: ProblemType,
    detail: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    """The problem document for ``problem``, with extension members; ``code`` defaults to the
    problem's slug."""
    body = problem.document(detail, code=code, extensions=extensions)
    all_headers = dict(headers or {})
    if problem.challenge is not None:
        all_headers.setdefault("WWW-Authenticate", problem.challenge)
    return ProblemResponse(body, status_code=problem.status, headers=all_headers)


def problem_of(error: RolegateError) -> ProblemType:
    """The entry of :data:`PROBLEMS` for the nearest class of ``error`` that has one."""
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return INTERNAL_ERROR


def rolegate_error_response(error: RolegateError, *, logged: bool = False) -> ProblemResponse:
    """``error`` as a problem; a server-side failure is logged (unless ``logged`` already) and
    described by its title only."""
    problem = problem_of(error)
    if isinstance(error, PolicyStale):  # logged once per transition, not once per request
        retry = {"Retry-After": str(error.retry_after)}
        return problem_response(problem, problem.title, code=error.code, headers=retry)
    if problem.status >= 500:
        if not logged:
            log.error("request failed: %s", error.code, exc_info=error)
        return _server_failure(problem, error)
    extensions: dict[str, Any] | None = None
    if isinstance(error, InvalidPassword):
        extensions = {"rule": error.rule}
    elif isinstance(error, AccountChangeDenied):
        extensions = {"rule": error.rule}
    elif isinstance(error, EscalationDenied):
        extensions = {"missing": error.missing}
    elif isinstance(error, Forbidden):
        extensions = {"permission": error.permission}
    elif isinstance(error, PermissionNotFound):
        extensions = {"errors": _unknown_permissions(error)}
    # A 412 carries the current tag, to read again with (RFC 9110 §13.1.1); a 429 when to
    # try again (RFC 6585 §4).
    headers = {"ETag": error.current} if isinstance(error, PreconditionFailed) else None
    if isinstance(error, LoginThrottled):
        headers, extensions = (
            {"Retry-After": str(error.retry_after)},
            {"retry_after": error.retry_after},
        )
    return problem_response(
        problem, str(error), code=error.code, headers=headers, extensions=extensions
    )


def _unknown_permissions(error: PermissionNotFound) -> list[dict[str, str]]:
    """One entry per unknown name, so a client fixes every one of them in one round trip."""
    return [
        {
            "code": error.code,
            "name": name,
            "detail": str(PermissionNotFound(name, tenant=error.tenant)),
        }
        for name in error.names
    ]


def _server_failure(problem: ProblemType, error: RolegateError) -> ProblemResponse:
    if not isinstance(error, StorageError):
        return problem_response(problem, problem.title, code=error.code)
    headers = {"Retry-After": str(STORAGE_RETRY_AFTER)}
    if isinstance(error, CommitOutcomeUnknown):
        # Retrying blindly could apply the change twice: the client must look first.
        return problem_response(
            problem,
            _OUTCOME_UNKNOWN,
            code=error.code,
            headers=headers,
            extensions={"commit_outcome": "unknown"},
        )
    return problem_response(problem, problem.title, code=error.code, headers=headers)


def unexpected_error_response(exc: Exception) -> ProblemResponse:
    """The answer to an error no handler took (one raised in a middleware, or by a path that
    missed translation), logged by the caller: a rolegate error as itself, a database error
    as the 503 it would have been translated to, anything else a 500 that says nothing."""
    if isinstance(exc, RolegateError):
        return rolegate_error_response(exc, logged=True)
    if is_storage_failure(exc):
        return rolegate_error_response(StorageError("the database failed"), logged=True)
    return problem_response(INTERNAL_ERROR, UNEXPECTED_DETAIL)


async def _on_rolegate_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RolegateError)
    return rolegate_error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    problem = invalid_request(exc.errors())
    return ProblemResponse(problem, status_code=REQUEST_INVALID.status)


async def _on_http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    problem = http_problem(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else problem.title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # the path's methods on every route, not the first one's
        allowed = allowed_methods(request.app.routes, request.scope)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem_response(problem, detail, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return unexpected_error_response(exc)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error ``app`` can raise answer with a problem document."""
    app.add_exception_handler(RolegateError, _on_rolegate_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
