"""The audit trail: a change and its event commit together or not at all; secrets stay out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from rolegate import (
    GrantExists,
    InheritanceCycle,
    InvalidExpiry,
    PermissionNotFound,
    RoleExists,
    Rolegate,
    RolegateError,
    StorageError,
    TenantExists,
    TenantProtected,
    UserExists,
)
from rolegate.audit.recorder import AuditEntry, AuditRecorder, PendingEvent
from rolegate.audit.redact import REDACTED
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    AuditTail,
    FakeClock,
    audit_events,
    audit_json,
    count_rows,
    stored_state,
    without_builtins,
)

Change = Callable[[Rolegate], object]

# Each is a complete service call on the ``policy`` fixture that would succeed and be audited.
AUDITED_CHANGES: dict[str, Change] = {
    "tenants.create": lambda rg: rg.tenants.create("globex"),
    "tenants.rename": lambda rg: rg.tenants.rename("acme", slug="acme-corp"),
    "tenants.delete": lambda rg: rg.tenants.delete("acme"),
    "users.create": lambda rg: rg.users.create("bob", password=PASSWORD),
    "users.set_password": lambda rg: rg.users.set_password("alice", PASSWORD),
    "users.update": lambda rg: rg.users.update("alice", full_name="Alice L."),
    "users.deactivate": lambda rg: rg.users.deactivate("alice"),
    "users.delete": lambda rg: rg.users.delete("alice"),
    "memberships.add": lambda rg: rg.memberships.add("default", "alice"),
    "memberships.remove": lambda rg: rg.memberships.remove("acme", "alice"),
    "resources.create": lambda rg: rg.resources.create("acme", "billing"),
    "resources.update": lambda rg: rg.resources.update("acme", "documents", description="d"),
    "resources.delete": lambda rg: rg.resources.delete("acme", "documents"),
    "permissions.create": lambda rg: rg.permissions.create("acme", "billing:read"),
    "permissions.update": lambda rg: rg.permissions.update(
        "acme", "documents:read", description="d"
    ),
    "permissions.delete": lambda rg: rg.permissions.delete("acme", "documents:read"),
    "roles.create": lambda rg: rg.roles.create(
        "acme", "writer", permissions=["documents:write", "drafts:*"], inherits=["viewer"]
    ),
    "roles.update": lambda rg: rg.roles.update("acme", "viewer", name="reader"),
    "roles.grant": lambda rg: rg.roles.grant("acme", "viewer", "documents:write"),
    "roles.grant_pattern": lambda rg: rg.roles.grant("acme", "viewer", "*:read"),
    "roles.revoke": lambda rg: rg.roles.revoke("acme", "viewer", "documents:read"),
    "roles.inherit": lambda rg: rg.roles.inherit("acme", "editor", "auditor"),
    "roles.uninherit": lambda rg: rg.roles.uninherit("acme", "editor", "viewer"),
    "roles.delete": lambda rg: rg.roles.delete("acme", "viewer"),
    "assignments.assign": lambda rg: rg.assignments.assign("acme", "alice", "auditor"),
    "assignments.unassign": lambda rg: rg.assignments.unassign("acme", "alice", "editor"),
}


@pytest.mark.parametrize("change", AUDITED_CHANGES.values(), ids=AUDITED_CHANGES.keys())
def test_when_the_audit_write_fails_the_change_is_not_applied(
    audit_store_down: Rolegate, change: Change
) -> None:
    rg = audit_store_down
    before = stored_state(rg)
    with pytest.raises(StorageError) as caught:
        change(rg)
    assert "audit store unavailable" in str(caught.value)
    assert stored_state(rg) == before
    assert rg.check("alice", "documents:write", tenant="acme")


def test_the_named_changes_are_absent_after_a_failed_audit_write(
    audit_store_down: Rolegate,
) -> None:
    rg = audit_store_down
    with pytest.raises(StorageError):
        rg.tenants.create("globex")
    with pytest.raises(StorageError):
        rg.roles.create("acme", "writer", permissions=["documents:write"])
    with pytest.raises(StorageError):
        rg.roles.grant("acme", "viewer", "documents:write")
    with pytest.raises(StorageError):
        rg.assignments.assign("acme", "alice", "auditor")
    with pytest.raises(StorageError):
        rg.users.create("bob", password=PASSWORD)
    with pytest.raises(StorageError):
        rg.tenants.delete("acme")
    assert [t.slug for t in rg.tenants.list()] == ["acme", "default", "platform"]
    roles = without_builtins(r.name for r in rg.roles.list("acme"))
    assert roles == ["auditor", "editor", "viewer"]
    assert rg.roles.get("acme", "viewer").permissions == ("documents:read",)
    assert [a.role for a in rg.assignments.list("acme")] == ["editor"]
    assert [u.username for u in rg.users.list()] == ["alice"]
    assert rg.check("alice", "documents:read", tenant="acme")


@pytest.mark.parametrize("change", AUDITED_CHANGES.values(), ids=AUDITED_CHANGES.keys())
def test_with_the_audit_store_up_the_same_change_is_applied_and_audited(
    policy: Rolegate, change: Change
) -> None:
    # The control for the test above: each change does change something, and is audited.
    tail = AuditTail(policy)
    before = stored_state(policy)
    change(policy)
    assert stored_state(policy) != before
    assert tail.new_events() != []


FAILING_CHANGES: dict[str, tuple[Change, type[RolegateError]]] = {
    "duplicate tenant": (lambda rg: rg.tenants.create("acme"), TenantExists),
    "duplicate user": (lambda rg: rg.users.create("ALICE"), UserExists),
    "duplicate role": (lambda rg: rg.roles.create("acme", "viewer"), RoleExists),
    "duplicate grant": (lambda rg: rg.roles.grant("acme", "viewer", "documents:read"), GrantExists),
    "cycle": (lambda rg: rg.roles.inherit("acme", "viewer", "editor"), InheritanceCycle),
    "half a role": (
        lambda rg: rg.roles.create("acme", "w", permissions=["documents:write", "no:such"]),
        PermissionNotFound,
    ),
    "past expiry": (
        lambda rg: rg.assignments.assign(
            "acme", "alice", "auditor", expires_at=datetime(2000, 1, 1, tzinfo=UTC)
        ),
        InvalidExpiry,
    ),
    "default tenant": (lambda rg: rg.tenants.delete("default"), TenantProtected),
}


@pytest.mark.parametrize(("change", "error"), FAILING_CHANGES.values(), ids=FAILING_CHANGES.keys())
def test_a_change_that_fails_writes_no_audit_event(
    policy: Rolegate, change: Change, error: type[RolegateError]
) -> None:
    tail = AuditTail(policy)
    before = stored_state(policy)
    with pytest.raises(error):
        change(policy)
    assert tail.new_events() == []
    assert stored_state(policy) == before


def test_no_password_or_hash_ever_reaches_the_trail(rg: Rolegate) -> None:
    rg.users.create("alice", password=PASSWORD, email="alice@example.com")
    rg.users.set_password("alice", "second secret passphrase")
    rg.users.update("alice", full_name="Alice")
    rg.users.deactivate("alice")
    rg.users.clear_password("alice")
    rg.users.create("bob", password="third secret passphrase")
    rg.users.delete("bob")
    trail = audit_json(rg)
    assert count_rows(rg, "audit_events") == 7
    for secret in (PASSWORD, "second secret", "third secret", "$argon2id$", "passphrase"):
        assert secret not in trail


def test_details_are_redacted_and_made_json_safe_by_the_recorder(
    rg: Rolegate, clock: FakeClock
) -> None:
    ident = uuid4()
    entry = AuditEntry(
        action="test.recorded",
        target_type="thing",
        target_id="t-1",
        actor="tester",
        tenant_id=ident,
        details={
            "when": clock.now,
            "who": ident,
            "login": {"password": "p", "tokens": ["a", "b"], "has_password": True},
            "names": ("a", "b"),
        },
    )
    with rg.db.transaction() as tx:
        AuditRecorder().write(tx, [PendingEvent(entry, clock.now)])
    [event] = audit_events(rg, action="test.recorded")
    assert (event.tenant_id, event.actor, event.occurred_at) == (ident, "tester", clock.now)
    assert event.details == {
        "when": clock.now.isoformat(),
        "who": str(ident),
        "login": {"password": REDACTED, "tokens": REDACTED, "has_password": True},
        "names": ["a", "b"],
    }


def test_events_carry_the_clock_time_and_the_default_actor(
    database_url: str, clock: FakeClock
) -> None:
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, actor="cli:ops") as rg:
        rg.tenants.create("acme")
        clock.advance(timedelta(minutes=3))
        rg.tenants.create("globex", actor="alice")
        first, second = audit_events(rg, action="tenant.created")
    assert (first.actor, first.occurred_at) == ("cli:ops", clock.now - timedelta(minutes=3))
    assert (second.actor, second.occurred_at) == ("alice", clock.now)


def test_the_trail_of_a_deleted_tenant_is_kept(policy: Rolegate) -> None:
    tenant = policy.tenants.get("acme")
    before = [e.id for e in audit_events(policy) if e.tenant_id == tenant.id]
    policy.tenants.delete("acme")
    kept = [e for e in audit_events(policy) if e.tenant_id == tenant.id]
    assert len(kept) == len(before) + 1
    assert {"tenant.created", "role.assigned", "tenant.deleted"} <= {e.action for e in kept}
