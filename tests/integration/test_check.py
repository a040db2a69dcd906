"""``Rolegate.check`` and ``explain`` end to end: stored policy in, decision out, both backends."""

from __future__ import annotations

import logging
from uuid import uuid4

import pytest

from rolegate import Decision, Reason, Rolegate, RoleNotFound, UserNotFound


@pytest.mark.parametrize(
    ("permission", "allowed"),
    [
        ("documents:write", True),  # granted to editor
        ("documents:read", True),  # inherited from viewer
        ("reports:q1", True),  # reports:*
        ("reports:q1:summary", True),  # a trailing * matches deeper names too
        ("reportsx:q1", False),
        ("documents:delete", False),
        ("billing:read", False),
    ],
)
def test_grants_inheritance_and_patterns(policy: Rolegate, permission: str, allowed: bool) -> None:
    assert policy.check("alice", permission, tenant="acme") is allowed
    reason = Reason.GRANTED if allowed else Reason.NO_ROLE_GRANTS_IT
    assert policy.explain("alice", permission, tenant="acme") == Decision(allowed, reason)


def test_star_colon_read_covers_two_segment_reads_only(policy: Rolegate) -> None:
    policy.roles.create("acme", "reader", permissions=["*:read"])
    policy.users.create("rita")
    policy.assignments.assign("acme", "rita", "reader")
    assert policy.check("rita", "documents:read", tenant="acme")
    assert policy.check("rita", "anything:read", tenant="acme")
    assert not policy.check("rita", "billing:invoices:read", tenant="acme")
    assert not policy.check("rita", "documents:write", tenant="acme")


def test_star_covers_everything_even_permissions_never_defined(policy: Rolegate) -> None:
    policy.roles.create("acme", "root", permissions=["*"])
    policy.users.create("root")
    policy.assignments.assign("acme", "root", "root")
    for permission in ("documents:read", "never:defined", "a:b:c:d", "VIEW_SCREEN_DASHBOARD"):
        assert policy.check("root", permission, tenant="acme")


def test_upper_snake_permissions(rg: Rolegate) -> None:
    rg.permissions.create("default", "VIEW_SCREEN_DASHBOARD")
    rg.roles.create("default", "staff", permissions=["VIEW_SCREEN_DASHBOARD"])
    rg.users.create("sam")
    rg.assignments.assign("default", "sam", "staff")
    assert rg.check("sam", "VIEW_SCREEN_DASHBOARD")  # the default tenant, unnamed
    assert not rg.check("sam", "VIEW_SCREEN")
    assert not rg.check("sam", "view_screen_dashboard")


def test_an_inactive_user_is_denied_until_reactivated(policy: Rolegate) -> None:
    policy.users.deactivate("alice")
    assert policy.explain("alice", "documents:read", tenant="acme") == Decision.deny(
        Reason.INACTIVE_USER
    )
    policy.users.activate("alice")
    assert policy.check("alice", "documents:read", tenant="acme")


def test_a_user_who_is_not_a_member_is_denied(policy: Rolegate) -> None:
    policy.users.create("bob")
    assert policy.explain("bob", "documents:read", tenant="acme").reason is Reason.NO_MEMBERSHIP
    policy.memberships.add("acme", "bob")
    assert policy.explain("bob", "documents:read", tenant="acme").reason is Reason.NO_ROLE_GRANTS_IT


def test_unknown_user_tenant_and_permission_are_denied(policy: Rolegate) -> None:
    assert policy.explain("nobody", "documents:read", tenant="acme").reason is Reason.UNKNOWN_USER
    assert policy.explain(uuid4(), "documents:read", tenant="acme").reason is Reason.UNKNOWN_USER
    assert policy.explain("alice", "documents:read", tenant="nope").reason is Reason.UNKNOWN_TENANT
    assert policy.explain("alice", "documents:read", tenant=uuid4()).reason is Reason.UNKNOWN_TENANT
    assert (
        policy.explain("alice", "never:defined", tenant="acme").reason is Reason.NO_ROLE_GRANTS_IT
    )


@pytest.mark.parametrize("permission", ["documents:*", "*", "Documents:read", "documents", ""])
def test_an_invalid_permission_name_is_denied(policy: Rolegate, permission: str) -> None:
    decision = policy.explain("alice", permission, tenant="acme")
    assert decision == Decision.deny(Reason.INVALID_PERMISSION)


def test_ids_and_names_are_interchangeable(policy: Rolegate) -> None:
    alice, tenant = policy.users.get("alice"), policy.tenants.get("acme")
    assert policy.check(alice.id, "documents:read", tenant=tenant.id)
    assert policy.check(str(alice.id), "documents:read", tenant=str(tenant.id))
    assert policy.check("ALICE", "documents:read", tenant="acme")


def test_nothing_crosses_tenants(policy: Rolegate) -> None:
    policy.tenants.create("globex")
    policy.permissions.create("globex", "documents:read")
    policy.roles.create("globex", "editor")  # same name, no grants
    policy.assignments.assign("globex", "alice", "editor")
    assert policy.check("alice", "documents:read", tenant="acme")
    assert not policy.check("alice", "documents:read", tenant="globex")
    assert not policy.check("alice", "documents:read")  # the default tenant


def test_a_failure_while_deciding_denies_and_is_logged(
    policy: Rolegate, caplog: pytest.LogCaptureFixture
) -> None:
    # Make the policy unreadable for real: move a table the compiler reads out of the way.
    with policy.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE role_permissions RENAME TO role_permissions_away")
    try:
        with caplog.at_level(logging.ERROR, logger="rolegate"):
            decision = policy.explain("alice", "documents:read", tenant="acme")
    finally:
        with policy.db.engine.begin() as connection:
            connection.exec_driver_sql(
                "ALTER TABLE role_permissions_away RENAME TO role_permissions"
            )
    assert decision == Decision.deny(Reason.ERROR)
    assert not decision
    assert any("check failed; denying" in r.getMessage() for r in caplog.records)
    assert policy.check("alice", "documents:read", tenant="acme")  # and back once readable


def test_names_with_a_nul_byte_name_nothing_on_every_backend(policy: Rolegate) -> None:
    # PostgreSQL refuses NUL in a parameter; the lookup must answer "unknown", not fail.
    assert policy.explain("ali\x00ce", "documents:read", tenant="acme") == Decision(
        False, Reason.UNKNOWN_USER
    )
    assert policy.explain("alice", "documents:read", tenant="ac\x00me") == Decision(
        False, Reason.UNKNOWN_TENANT
    )
    with pytest.raises(UserNotFound):
        policy.users.get("ali\x00ce")
    with pytest.raises(RoleNotFound):
        policy.roles.get("acme", "edi\x00tor")
