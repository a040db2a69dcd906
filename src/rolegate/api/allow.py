"""The ``Allow`` header of a 405: every method the request's path is served with.

Starlette answers a wrong method with the methods of the first route whose path matched, so
``OPTIONS /v1/tenants`` said ``Allow: GET`` although ``POST /v1/tenants`` exists. RFC 9110
§15.5.6 asks for the methods the *target resource* supports, and here one path's methods are
spread over several routes (one per method): the header is the union over all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """The methods, sorted, of every route in ``routes`` whose path matches ``scope``'s:
    its own method matching or not, a route that matches the path serves it."""
    allowed: set[str] = set()
    # Only on a 405, so walking every route (a few dozen) costs nothing that matters.
    for route in iter_route_contexts(routes):
        methods = route.methods
        if methods and route.matches(scope)[0] is not Match.NONE:
            allowed |= methods
    return sorted(allowed)
