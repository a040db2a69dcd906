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
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar, cast

from flask import Flask, Response, current_app, g, request
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

EXTENSION: Final = "rolegate"
_PRINCIPAL: Final = "rolegate_principal"  # where the request's principal is kept on ``g``

P = ParamSpec("P")
R = TypeVar("R")


class RolegateFlask:
    """Protects a Flask app: verifies bearer tokens and checks permissions, failing closed."""

    def __init__(
        self, app: Flask | None = None, *, verifier: TokenVerifier, decider: Decider
    ) -> None:
        self.gatekeeper = Gatekeeper(verifier, decider)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register on ``app``: refusals answer as problem+json."""
        app.extensions[EXTENSION] = self
        app.register_error_handler(AccessRefused, _problem_response)


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
