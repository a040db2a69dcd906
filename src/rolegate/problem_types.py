"""RFC 9457 problem types that every HTTP edge shares: the REST API (``rolegate.api``) and the
framework integrations (``rolegate.integrations``), which may not import each other.

Framework-free on purpose: it holds the ``type`` URI convention, the problems of HTTP-level
refusals (no route, wrong method, invalid request) and how request validation errors are
listed, so an application protected by rolegate answers them exactly as the rolegate server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

PROBLEM_BASE: Final = "https://rolegate.dev/problems/"
_SECRET_WORDS: Final = ("password", "token", "secret")
_BEARER: Final = "Bearer"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """How one family of errors is answered: status, type slug, title and any auth challenge."""

    slug: str
    status: int
    title: str
    challenge: str | None = None  # the WWW-Authenticate value of a 401 (RFC 6750 §3)

    @property
    def uri(self) -> str:
        """The problem's ``type`` member: a stable URI naming this family."""
        return PROBLEM_BASE + self.slug

    def document(
        self, detail: str, *, code: str | None = None, extensions: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The problem document; ``code`` defaults to the slug."""
        return {
            "type": self.uri,
            "title": self.title,
            "status": self.status,
            "detail": detail,
            "code": code or self.slug,
            **(extensions or {}),
        }


INTERNAL_ERROR: Final = ProblemType("internal_error", 500, "Internal server error")
REQUEST_INVALID: Final = ProblemType("invalid_request", 422, "Invalid request")
#: The detail of a 500 nobody meant: never the exception's text, which may hold SQL, paths or
#: data (the log has it all).
UNEXPECTED_DETAIL: Final = "an unexpected error occurred"

#: Problems for HTTP-level refusals (no route, wrong method, body too large), by status.
HTTP_PROBLEMS: Final[Mapping[int, ProblemType]] = {
    problem.status: problem
    for problem in (
        ProblemType("bad_request", 400, "Bad request"),
        ProblemType("unauthenticated", 401, "Not authenticated", _BEARER),
        ProblemType("forbidden", 403, "Forbidden"),
        ProblemType("not_found", 404, "Not found"),
        ProblemType("method_not_allowed", 405, "Method not allowed"),
        ProblemType("content_too_large", 413, "Content too large"),
        ProblemType("unsupported_media_type", 415, "Unsupported media type"),
        REQUEST_INVALID,
        INTERNAL_ERROR,
    )
}


def http_problem(status: int, title: str | None = None) -> ProblemType:
    """The problem type of an HTTP status: the table's, else ``http_<status>`` with ``title``."""
    return HTTP_PROBLEMS.get(status) or ProblemType(
        f"http_{status}", status, title or f"HTTP {status}"
    )


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Field paths and messages of pydantic validation errors; an input is echoed only when it
    is a scalar of a field whose name does not look secret (a "missing" error's input is the
    whole object, password too)."""
    listed = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        entry: dict[str, Any] = {
            "field": ".".join(location),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        value = error.get("input")
        last = location[-1].lower() if location else ""
        is_scalar = value is None or isinstance(value, str | int | float | bool)
        if is_scalar and not any(word in last for word in _SECRET_WORDS):
            entry["input"] = value
        listed.append(entry)
    return listed


def invalid_request(errors: Sequence[Any]) -> dict[str, Any]:
    """The 422 problem of a request that failed validation, every error listed in ``errors``."""
    listed = field_errors(errors)
    detail = f"the request is not valid ({len(listed)} error{'s' * (len(listed) != 1)})"
    return REQUEST_INVALID.document(detail, extensions={"errors": listed})
