"""Builders and test doubles for the outside world (clock); never for rolegate's own code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rolegate import Argon2Hasher, Rolegate

#: Real argon2id with the smallest parameters: tests exercise hashing without paying for it.
FAST_HASHER = Argon2Hasher(memory_kib=8, time_cost=1, parallelism=1)

PASSWORD = "violet staple orbit 9 lantern"


@dataclass
class FakeClock:
    """A clock that stands still until a test moves it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``."""
        self.now += delta


def build_documents_policy(rg: Rolegate, tenant: str = "acme") -> None:
    """The README's policy: viewer < editor (with ``reports:*``), auditor < viewer; alice edits."""
    rg.tenants.create(tenant, name=f"{tenant.title()} Inc.")
    rg.permissions.create(tenant, "documents:read")
    rg.permissions.create(tenant, "documents:write")
    rg.roles.create(tenant, "viewer", permissions=["documents:read"])
    rg.roles.create(tenant, "editor", permissions=["documents:write"], inherits=["viewer"])
    rg.roles.grant(tenant, "editor", "reports:*")
    rg.roles.create(tenant, "auditor")
    rg.roles.inherit(tenant, "auditor", "viewer")
    if not any(u.username == "alice" for u in rg.users.list()):
        rg.users.create("alice", email="alice@example.com")
    rg.assignments.assign(tenant, "alice", "editor")
