"""Deny by default: every route of the app declares what it needs, and the guards hold."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts

from rolegate.api.deps import AUTHENTICATED, GUARD, PUBLIC
from rolegate.builtins import PLATFORM_PERMISSIONS, TENANT_PERMISSIONS

#: The route FastAPI itself adds (the schema): public by nature, and serves no data. The docs
#: pages and their assets are rolegate's own routes, declared public like any other.
FRAMEWORK_ROUTES = {"/openapi.json"}
KNOWN = {PUBLIC, AUTHENTICATED, *TENANT_PERMISSIONS, *PLATFORM_PERMISSIONS}


def guards(dependant: Dependant) -> Iterator[str]:
    """Every requirement declared by a dependency of ``dependant``, however deeply nested."""
    for dependency in dependant.dependencies:
        declared = getattr(dependency.call, GUARD, None)
        if declared is not None:
            yield declared
        yield from guards(dependency)


def declared(route: RouteContext) -> set[str]:
    """What a route needs: from its dependencies (FastAPI routes) or, for a plain Starlette
    route, from its endpoint itself."""
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        return set(guards(dependant))
    own = getattr(route.endpoint, GUARD, None)
    return {own} if own is not None else set()


def test_every_route_declares_what_it_needs(app: FastAPI) -> None:
    undeclared, unknown = [], []
    routes = list(iter_route_contexts(app.routes))
    assert len(routes) > len(FRAMEWORK_ROUTES)
    for route in routes:
        if route.path in FRAMEWORK_ROUTES:
            continue
        needs = declared(route)
        if not needs:
            undeclared.append(f"{sorted(route.methods or ())} {route.path}")
        unknown += [f"{route.path}: {name}" for name in needs - KNOWN]
    assert undeclared == [], f"routes without a declared requirement: {undeclared}"
    assert unknown == [], f"routes requiring something that is not a built-in: {unknown}"


def test_no_route_is_both_public_and_guarded(app: FastAPI) -> None:
    for route in iter_route_contexts(app.routes):
        needs = declared(route)
        assert not (PUBLIC in needs and needs - {PUBLIC}), route.path
