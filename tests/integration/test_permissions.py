"""Permissions on real databases: names and patterns, uniqueness per tenant, cascades, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rolegate import InvalidName, PermissionExists, PermissionNotFound, Rolegate, TenantNotFound
from tests.factories import (
    AuditTail,
    FakeClock,
    build_documents_policy,
    count_rows,
    summary,
    without_builtins,
)


def test_create_defines_a_permission_and_audits_it(rg: Rolegate, clock: FakeClock) -> None:
    tenant = rg.tenants.create("acme")
    tail = AuditTail(rg)
    permission = rg.permissions.create(
        "acme", "documents:read", description=" Read documents ", actor="admin:1"
    )
    assert (permission.tenant, permission.name, permission.resource, permission.action) == (
        "acme",
        "documents:read",
        "documents",
        "read",
    )
    assert permission.description == "Read documents" and not permission.is_pattern
    assert permission.created_at == clock.now
    assert rg.permissions.get("acme", "documents:read") == permission
    assert rg.permissions.get("acme", permission.id) == permission
    created = [e for e in tail.new_events() if e.action == "permission.created"]
    assert [summary(e) for e in created] == [
        {
            "action": "permission.created",
            "target_type": "permission",
            "target_id": str(permission.id),
            "tenant_id": tenant.id,
            "actor": "admin:1",
        }
    ]
    assert created[0].details == {
        "after": {"name": "documents:read", "description": "Read documents", "audited": False}
    }
    assert tail.new_actions() == []  # nothing else was written afterwards


def test_the_first_permission_of_a_resource_also_creates_the_resource(rg: Rolegate) -> None:
    tail = AuditTail(rg)
    rg.permissions.create("default", "documents:read")
    assert tail.new_actions() == ["permission.created", "resource.created"]
    rg.permissions.create("default", "documents:write")
    assert tail.new_actions() == ["permission.created"]


@pytest.mark.parametrize(
    ("name", "resource", "action", "is_pattern"),
    [
        ("VIEW_SCREEN_DASHBOARD", None, "VIEW_SCREEN_DASHBOARD", False),
        ("billing:invoices:read", "billing:invoices", "read", False),
        ("documents:*", "documents", "*", True),
        ("*:read", None, "read", True),
        ("*", None, "*", True),
    ],
)
def test_names_and_patterns(
    rg: Rolegate, name: str, resource: str | None, action: str, is_pattern: bool
) -> None:
    permission = rg.permissions.create("default", name)
    assert (permission.resource, permission.action, permission.is_pattern) == (
        resource,
        action,
        is_pattern,
    )
    assert rg.permissions.get("default", name) == permission
    resources = without_builtins(r.name for r in rg.resources.list("default"))
    assert resources == ([resource] if resource else [])


@pytest.mark.parametrize("name", ["documents", "Documents:read", "a::b", "docs:re*d", "x" * 300])
def test_malformed_names_are_rejected(rg: Rolegate, name: str) -> None:
    tail = AuditTail(rg)
    with pytest.raises(InvalidName):
        rg.permissions.create("default", name)
    assert tail.new_events() == []


def test_a_permission_is_unique_per_tenant(rg: Rolegate) -> None:
    tenants = ("acme", "globex")
    for tenant in tenants:
        rg.tenants.create(tenant)
        rg.permissions.create(tenant, "documents:read")
    tail = AuditTail(rg)
    with pytest.raises(PermissionExists) as caught:
        rg.permissions.create("acme", "documents:read")
    assert (caught.value.key, caught.value.tenant) == ("documents:read", "acme")
    assert tail.new_events() == []
    acme, globex = (without_builtins(p.name for p in rg.permissions.list(t)) for t in tenants)
    assert acme == globex == ["documents:read"]


def test_list_is_ordered_and_filters_by_resource(rg: Rolegate) -> None:
    for name in ("documents:write", "VIEW_DASHBOARD", "billing:read", "documents:read", "*:read"):
        rg.permissions.create("default", name)
    listed = [p.name for p in rg.permissions.list("default")]
    assert listed == sorted(listed) and len(without_builtins(listed)) == 5
    by_resource = rg.permissions.list("default", resource="documents")
    assert [p.name for p in by_resource] == ["documents:read", "documents:write"]
    assert {p.resource for p in by_resource} == {"documents"}


def test_a_resource_that_does_not_exist_has_no_permissions(rg: Rolegate) -> None:
    # Permissions without a resource (UPPER_SNAKE names, '*:read') belong to no resource,
    # least of all to one that does not exist.
    rg.permissions.create("default", "VIEW_DASHBOARD")
    rg.permissions.create("default", "*:read")
    assert rg.permissions.list("default", resource="nothing") == []


def test_defines_knows_permissions_and_what_patterns_cover(rg: Rolegate) -> None:
    """What ``rolegate check`` asks before calling a denial a typo."""
    rg.tenants.create("acme")
    rg.tenants.create("globex")
    rg.permissions.create("acme", "documents:read")
    rg.roles.create("acme", "reporter", permissions=["reports:*"])
    rg.permissions.create("globex", "invoices:read")

    assert rg.permissions.defines("acme", "documents:read")
    assert rg.permissions.defines("acme", "reports:export")  # under reports:*
    assert not rg.permissions.defines("acme", "documents:write")
    assert not rg.permissions.defines("acme", "invoices:read")  # another tenant's
    assert not rg.permissions.defines("acme", "Not Valid")
    with pytest.raises(TenantNotFound):
        rg.permissions.defines("acmee", "documents:read")


def test_update_changes_the_description_and_audits_it(rg: Rolegate, clock: FakeClock) -> None:
    permission = rg.permissions.create("default", "documents:read", description="old")
    clock.advance(timedelta(hours=1))
    tail = AuditTail(rg)
    updated = rg.permissions.update("default", "documents:read", description="new")
    assert (updated.description, updated.updated_at) == ("new", clock.now)
    assert updated.resource == "documents"
    [event] = tail.new_events()
    assert (event.action, event.target_id) == ("permission.updated", str(permission.id))
    assert event.details == {
        "before": {"description": "old", "audited": False},
        "after": {"description": "new", "audited": False},
    }


def test_delete_revokes_every_grant_of_it(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    tenant, permission = rg.tenants.get("acme"), rg.permissions.get("acme", "documents:read")
    grants = count_rows(rg, "role_permissions")
    tail = AuditTail(rg)

    rg.permissions.delete("acme", "documents:read", actor="admin:1")

    with pytest.raises(PermissionNotFound):
        rg.permissions.get("acme", "documents:read")
    assert rg.roles.get("acme", "viewer").permissions == ()
    assert count_rows(rg, "role_permissions") == grants - 1  # viewer's, and no other
    assert rg.roles.get("acme", "editor").permissions == ("documents:write", "reports:*")
    assert not rg.check("alice", "documents:read", tenant="acme")
    assert rg.check("alice", "documents:write", tenant="acme")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "permission.deleted",
        "target_type": "permission",
        "target_id": str(permission.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {"before": {"name": "documents:read"}, "cascaded": {"grants": 1}}


def test_a_permission_of_another_tenant_is_not_found_even_by_id(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    theirs = rg.permissions.create("acme", "documents:read")
    for ref in ("documents:read", theirs.id, str(theirs.id)):
        with pytest.raises(PermissionNotFound):
            rg.permissions.get("default", ref)
        with pytest.raises(PermissionNotFound):
            rg.permissions.delete("default", ref)
    assert rg.permissions.get("acme", theirs.id) == theirs
