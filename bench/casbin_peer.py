"""pycasbin 2.x on the same policy, in its best stock configuration.

The model is casbin's RBAC-with-domains example with its matcher unchanged. ``FastEnforcer``
with ``cache_key_order=[1, 2, 3]`` indexes the ``p`` rules by (domain, object, action), so a
request only walks the rules of its own tenant and permission. ``add_named_matching_func("g",
None)`` drops the default ``name1 == name2`` matching function the domain role manager installs,
which otherwise makes every new role link scan every role of the domain. Casbin has no
wildcard grants in this model, so each pattern is expanded to the exact permissions it covers
(the same expansion the reference answers use).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from bench.workload import Workload, expand

MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""

Rule = tuple[str, list[str]]  # (ptype, values)


def available() -> bool:
    """Whether pycasbin is installed (an optional ``bench`` extra); it is not imported here, so
    its modules are not resident while rolegate's collector pauses are timed."""
    return find_spec("casbin") is not None


def version() -> str:
    """The installed pycasbin version."""
    from importlib.metadata import version as installed

    return installed("pycasbin")


def rules(workload: Workload) -> Iterator[Rule]:
    """The workload as casbin rules: p per exact permission, g per inheritance and assignment."""
    for tenant in workload.tenants:
        for role, grants in tenant.grants.items():
            for permission in sorted(expand(grants, tenant.permissions)):
                resource, _, action = permission.rpartition(":")
                yield "p", [role, tenant.slug, resource, action]
            for parent in tenant.parents[role]:  # g(role, parent): role holds parent's grants
                yield "g", [role, parent, tenant.slug]
        for user, roles in tenant.members.items():
            for role in roles:
                yield "g", [user, role, tenant.slug]


@dataclass(frozen=True, slots=True)
class CasbinPeer:
    """A warmed ``FastEnforcer`` answering rolegate-style calls."""

    enforcer: Any
    rules: int
    build_seconds: float

    @classmethod
    def build(cls, workload: Workload) -> CasbinPeer:
        """Load every rule, drop the no-op role matcher, and warm every tenant's role graph."""
        import casbin  # type: ignore[import-untyped]
        from casbin.model import FastModel  # type: ignore[import-untyped]

        started = time.perf_counter()
        model = FastModel([1, 2, 3])  # FastEnforcer builds the same from a path; we have text
        model.load_model_from_text(MODEL)
        loaded = list(rules(workload))
        enforcer = casbin.FastEnforcer(model, _list_adapter(loaded), cache_key_order=[1, 2, 3])
        if not enforcer.add_named_matching_func("g", None):
            raise PeerUnusable("pycasbin refused add_named_matching_func('g', None)")
        for tenant in workload.tenants:
            # The domain role manager is built lazily on a domain's first request: do it now.
            enforcer.enforce("", tenant.slug, "", "")
        return cls(enforcer, len(loaded), time.perf_counter() - started)

    def check(self, user: str, permission: str, *, tenant: str) -> bool:
        """Rolegate's call shape; splitting the name costs ~0.1 µs of casbin's figure."""
        resource, _, action = permission.rpartition(":")
        return bool(self.enforcer.enforce(user, tenant, resource, action))


class PeerUnusable(Exception):
    """pycasbin is installed but cannot be configured as this benchmark needs."""


def _list_adapter(loaded: list[Rule]) -> Any:
    """An in-memory adapter: what a database adapter's ``load_policy`` does, minus the I/O."""
    from casbin.persist.adapter import Adapter  # type: ignore[import-untyped]

    class ListAdapter(Adapter):  # type: ignore[misc]
        def load_policy(self, model: Any) -> None:
            for ptype, values in loaded:
                model.model[ptype[0]][ptype].policy.append(values)

    return ListAdapter()
