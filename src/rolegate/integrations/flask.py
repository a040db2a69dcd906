"""Flask: the :class:`RolegateFlask` extension, the :func:`require_permission` decorator and
:data:`current_principal`. Needs the ``flask`` extra (``pip install 'rolegate[flask]'``).

::

    rolegate_auth = RolegateFlask(verifier=LocalVerifier(rg), decider=LocalDecider(rg))
    rolegate_auth.init_app(app)          # or RolegateFlask(app, verifier=..., decider=...)
    # against a rolegate server: decider=RemoteDecider(rolegate_url, token=service_token)

    @app.get("/documents")
    @require_permission("documents:read")
    def list_documents():
        return documents_of(current_principal.tenant_id)

The decorator and the proxy find the extension through ``current_app.extensions``, so they work
with app factories and blueprints declared before any app exists.

Errors answer as RFC 9457 problem documents (``application/problem+json``), with the same
members and ``type`` URIs as the rolegate server's: refusals (401, 403, 503), and every Werkzeug
``HTTPException`` of the app — ``abort(422, "...")``, an unknown route's 404, a 405 with its
``Allow``, a bad JSON body's 400 — keeping the exception's headers. An unhandled exception is a
500 problem that says nothing of its cause (Flask logs it), wherever Flask would render its HTML
500 page; with ``PROPAGATE_EXCEPTIONS`` (debug and testing) it still propagates. An app that
renders its own error pages passes ``problem_details=False``: only refusals are then problem
documents. Handlers the app registers for a status code (``@app.errorhandler(404)``) win.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar, cast

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.local import LocalProxy

from rolegate.audit.origin import Origin
from rolegate.authn.tokens import bearer_token
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
from rolegate.problem_types import INTERNAL_ERROR, UNEXPECTED_DETAIL, http_problem

EXTENSION: Final = "rolegate"
_PRINCIPAL: Final = "rolegate_principal"  # where the request's principal is kept on ``g``

P = ParamSpec("P")
R = TypeVar("R")


class RolegateFlask:
    """Protects a Flask app: verifies bearer tokens and checks permissions, failing closed."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        verifier: TokenVerifier,
        decider: Decider,
        problem_details: bool = True,
    ) -> None:
        self.gatekeeper = Gatekeeper(verifier, decider)
        self.problem_details = problem_details
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register on ``app``: refusals, and unless ``problem_details`` is off every HTTP
        error and unhandled exception, answer as problem+json."""
        app.extensions[EXTENSION] = self
        app.register_error_handler(AccessRefused, _problem_response)
        if self.problem_details:
            # Flask hands an unhandled exception to this handler too, as an InternalServerError,
            # and only when it does not propagate it (debug, testing).
            app.register_error_handler(HTTPException, _http_problem_response)


def _gatekeeper() -> Gatekeeper:
    extension = current_app.extensions.get(EXTENSION)
    if not isinstance(extension, RolegateFlask):  # fail closed: a 500, never an open view
        raise InvalidConfiguration("RolegateFlask(app, ...) or init_app(app) was not called")
    return extension.gatekeeper


def _principal() -> Principal:
    """The caller, authenticated on first use in a request and kept on ``g``."""
    principal = g.get(_PRINCIPAL)
    if principal is None:
        token = bearer_token(request.headers.get("Authorization"))
        principal = _gatekeeper().authenticate(token)
        setattr(g, _PRINCIPAL, principal)
    assert isinstance(principal, Principal)
    return principal


#: The caller of the current request. Reading it without a valid bearer token answers the
#: request with a 401 problem; it never holds anything but a verified principal.
current_principal = cast(Principal, LocalProxy(_principal))


def require_permission(permission: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A view decorator: the view runs only if the caller holds ``permission`` in its token's
    tenant; 401, 403 or 503 problem otherwise. A malformed name raises here, at import time."""
    parse_permission(permission)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = _principal()
            _gatekeeper().authorize(principal, permission, origin=_origin(principal))
            return view(*args, **kwargs)

        return guarded

    return decorate


def _origin(principal: Principal) -> Origin:
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return request_origin(
        principal,
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        request_id=request.headers.get("X-Request-ID"),
        route=f"{request.method} {rule}",
    )


def _problem_response(refused: AccessRefused) -> Response:
    return Response(
        json.dumps(refused.problem),
        status=refused.status,
        headers=refused.headers,
        mimetype="application/problem+json",
    )


def _http_problem_response(exc: HTTPException) -> Response:
    """``exc`` as a problem with its headers (``Allow``, ``WWW-Authenticate``); a response the
    app attached (``abort(response)``) is answered as it is."""
    if exc.response is not None:
        return exc.response  # type: ignore[return-value]  # a Werkzeug response, which Flask takes
    status = exc.code or 500
    problem = http_problem(status, exc.name)
    if getattr(exc, "original_exception", None) is not None:  # unhandled: Flask has logged it
        document = INTERNAL_ERROR.document(UNEXPECTED_DETAIL)
    else:
        document = problem.document(exc.description or problem.title)
    headers = [(name, value) for name, value in exc.get_headers() if name != "Content-Type"]
    if problem.challenge is not None and not any(n == "WWW-Authenticate" for n, _ in headers):
        headers.append(("WWW-Authenticate", problem.challenge))
    return Response(
        json.dumps(document), status=status, headers=headers, mimetype="application/problem+json"
    )
