"""Roles on real databases: life cycle, grants, inheritance and cycles, tenant isolation, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from rolegate import (
    GrantExists,
    GrantNotFound,
    InheritanceCycle,
    InheritanceExists,
    InheritanceNotFound,
    InvalidName,
    PermissionNotFound,
    RoleExists,
    Rolegate,
    RoleNotFound,
)
from tests.factories import (
    AuditTail,
    FakeClock,
    audit_events,
    build_documents_policy,
    count_rows,
    stored_state,
    summary,
    without_builtins,
)


def test_create_with_grants_and_parents_audits_each_step(
    acme_permissions: Rolegate, clock: FakeClock
) -> None:
    rg = acme_permissions
    tenant = rg.tenants.get("acme")
    viewer = rg.roles.create("acme", "viewer", permissions=["documents:read"])
    tail = AuditTail(rg)
    editor = rg.roles.create(
        "acme",
        "editor",
        description=" Edits ",
        permissions=["documents:write", "reports:*"],
        inherits=["viewer"],
        actor="admin:1",
    )
    assert (editor.tenant, editor.name, editor.description) == ("acme", "editor", "Edits")
    assert editor.permissions == ("documents:write", "reports:*")
    assert editor.inherits == ("viewer",)
    assert editor.created_at == clock.now
    assert rg.roles.get("acme", "editor") == editor == rg.roles.get("acme", editor.id)
    assert viewer.permissions == ("documents:read",) and viewer.inherits == ()
    events = tail.new_events()
    assert [(e.action, e.target_type) for e in events] == [
        ("permission.created", "permission"),  # the pattern reports:* is defined on first grant
        ("resource.created", "resource"),
        ("role.created", "role"),
        ("role.inherited", "role"),
        ("role.permission_granted", "role"),
        ("role.permission_granted", "role"),
    ]
    assert {e.tenant_id for e in events} == {tenant.id}
    assert {e.actor for e in events} == {"admin:1"}
    role_events = [e for e in events if e.action.startswith("role.")]
    assert {e.target_id for e in role_events} == {str(editor.id)}
    expected = [
        {"after": {"name": "editor", "description": "Edits"}},
        {"role": "editor", "inherited": "viewer"},
        {"role": "editor", "permission": "documents:write"},
        {"role": "editor", "permission": "reports:*"},
    ]
    assert sorted((e.details for e in role_events), key=repr) == sorted(expected, key=repr)


def test_create_is_all_or_nothing(acme_permissions: Rolegate) -> None:
    rg = acme_permissions
    before = stored_state(rg)
    tail = AuditTail(rg)
    with pytest.raises(PermissionNotFound):
        rg.roles.create("acme", "editor", permissions=["documents:write", "never:created"])
    with pytest.raises(RoleNotFound):
        rg.roles.create("acme", "editor", permissions=["documents:write"], inherits=["ghost"])
    with pytest.raises(RoleNotFound):
        rg.roles.get("acme", "editor")
    assert tail.new_events() == []
    assert stored_state(rg) == before


def test_the_same_role_name_in_two_tenants_but_not_twice_in_one(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.tenants.create("globex")
    first = rg.roles.create("acme", "viewer")
    second = rg.roles.create("globex", "viewer")
    assert first.id != second.id
    tail = AuditTail(rg)
    with pytest.raises(RoleExists) as caught:
        rg.roles.create("acme", "viewer")
    assert (caught.value.key, caught.value.tenant, caught.value.code) == (
        "viewer",
        "acme",
        "role_exists",
    )
    assert tail.new_events() == []


@pytest.mark.parametrize("name", ["", "a b", "-x", "r" * 65, "a:b"])
def test_a_malformed_role_name_is_rejected(rg: Rolegate, name: str) -> None:
    before = rg.roles.list("default")
    with pytest.raises(InvalidName):
        rg.roles.create("default", name)
    assert rg.roles.list("default") == before


def test_a_role_of_another_tenant_is_not_found_even_by_id(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    rg.tenants.create("globex")
    rg.roles.create("globex", "local")
    theirs = rg.roles.get("acme", "editor")
    tail = AuditTail(rg)
    calls: list[Callable[[UUID | str], object]] = [
        lambda ref: rg.roles.get("globex", ref),
        lambda ref: rg.roles.update("globex", ref, description="x"),
        lambda ref: rg.roles.delete("globex", ref),
        lambda ref: rg.roles.grant("globex", ref, "reports:*"),
        lambda ref: rg.roles.inherit("globex", "local", ref),
        lambda ref: rg.roles.inherit("globex", ref, "local"),
        lambda ref: rg.roles.create("globex", "heir", inherits=[ref]),
        lambda ref: rg.assignments.assign("globex", "alice", ref),
    ]
    for call in calls:
        for ref in (theirs.id, str(theirs.id)):
            with pytest.raises(RoleNotFound):
                call(ref)
    assert tail.new_events() == []
    assert rg.roles.get("acme", theirs.id) == theirs
    assert without_builtins(r.name for r in rg.roles.list("globex")) == ["local"]


def test_list_is_ordered_by_name(acme_permissions: Rolegate) -> None:
    for name in ("viewer", "Admin", "editor"):
        acme_permissions.roles.create("acme", name)
    listed = [r.name for r in acme_permissions.roles.list("acme")]
    assert listed == ["Admin", "editor", "tenant-admin", "viewer"]


def test_update_renames_and_redescribes_and_audits(
    acme_permissions: Rolegate, clock: FakeClock
) -> None:
    rg = acme_permissions
    role = rg.roles.create("acme", "viewer", description="reads", permissions=["documents:read"])
    rg.users.create("alice")
    rg.assignments.assign("acme", "alice", "viewer")
    clock.advance(timedelta(minutes=1))
    tail = AuditTail(rg)
    updated = rg.roles.update("acme", "viewer", name="reader", description="reads docs")
    assert (updated.id, updated.name, updated.description) == (role.id, "reader", "reads docs")
    assert updated.permissions == ("documents:read",) and updated.updated_at == clock.now
    assert rg.check("alice", "documents:read", tenant="acme")
    [event] = tail.new_events()
    assert (event.action, event.target_id) == ("role.updated", str(role.id))
    assert event.details == {
        "before": {"name": "viewer", "description": "reads"},
        "after": {"name": "reader", "description": "reads docs"},
    }


def test_update_to_a_taken_name_is_rejected(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer")
    acme_permissions.roles.create("acme", "editor")
    with pytest.raises(RoleExists):
        acme_permissions.roles.update("acme", "editor", name="viewer")
    listed = without_builtins(r.name for r in acme_permissions.roles.list("acme"))
    assert listed == ["editor", "viewer"]


def test_delete_removes_grants_edges_both_ways_and_assignments(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")  # auditor -> viewer <- editor; alice holds editor
    rg.roles.create("acme", "owner", inherits=["editor"])
    rg.users.create("bob")
    rg.assignments.assign("acme", "bob", "owner")
    tenant, editor = rg.tenants.get("acme"), rg.roles.get("acme", "editor")
    grants = count_rows(rg, "role_permissions")
    tail = AuditTail(rg)

    rg.roles.delete("acme", "editor", actor="admin:1")

    with pytest.raises(RoleNotFound):
        rg.roles.get("acme", "editor")
    assert rg.roles.get("acme", "owner").inherits == ()
    assert [a.username for a in rg.assignments.list("acme")] == ["bob"]
    assert count_rows(rg, "role_inheritance") == 1  # auditor -> viewer
    assert count_rows(rg, "role_permissions") == grants - 2  # editor's; viewer keeps its own
    assert rg.roles.get("acme", "viewer").permissions == ("documents:read",)
    assert not rg.check("alice", "documents:read", tenant="acme")
    assert not rg.check("bob", "documents:write", tenant="acme")
    assert [m.username for m in rg.memberships.list("acme")] == ["alice", "bob"]
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "role.deleted",
        "target_type": "role",
        "target_id": str(editor.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {
        "before": {
            "name": "editor",
            "permissions": ["documents:write", "reports:*"],
            "inherits": ["viewer"],
        },
        "cascaded": {"assignments": 1, "inherited_by": 1},
    }


# --- grants ------------------------------------------------------------------------------------


def test_grant_and_revoke_are_audited(acme_permissions: Rolegate) -> None:
    rg = acme_permissions
    tenant, role = rg.tenants.get("acme"), rg.roles.create("acme", "viewer")
    tail = AuditTail(rg)
    assert rg.roles.grant("acme", "viewer", "documents:read").permissions == ("documents:read",)
    assert rg.roles.revoke("acme", "viewer", "documents:read").permissions == ()
    events = tail.new_events()
    assert [summary(e) for e in events] == [
        {
            "action": action,
            "target_type": "role",
            "target_id": str(role.id),
            "tenant_id": tenant.id,
            "actor": "system",
        }
        for action in ("role.permission_granted", "role.permission_revoked")
    ]
    assert [e.details for e in events] == [{"role": "viewer", "permission": "documents:read"}] * 2


def test_granting_twice_is_rejected(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer", permissions=["documents:read"])
    tail = AuditTail(acme_permissions)
    with pytest.raises(GrantExists):
        acme_permissions.roles.grant("acme", "viewer", "documents:read")
    assert tail.new_events() == []


def test_every_unknown_permission_is_named_in_one_error(acme_permissions: Rolegate) -> None:
    rg = acme_permissions
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    before = stored_state(rg)
    tail = AuditTail(rg)
    wanted = ["c:z", "documents:write", "a:x", "reports:*", "b:y", "c:z"]

    with pytest.raises(PermissionNotFound) as created:
        rg.roles.create("acme", "editor", permissions=wanted)
    with pytest.raises(PermissionNotFound) as updated:
        rg.roles.update("acme", "viewer", permissions=wanted)

    for caught in (created, updated):
        assert (caught.value.names, caught.value.tenant) == (("a:x", "b:y", "c:z"), "acme")
        assert caught.value.code == "permission_not_found"
        assert str(caught.value) == "permissions 'a:x', 'b:y', 'c:z' not found in tenant 'acme'"
    assert tail.new_events() == []
    assert stored_state(rg) == before


def test_an_exact_permission_must_exist_but_a_pattern_is_defined_on_first_grant(
    acme_permissions: Rolegate,
) -> None:
    rg = acme_permissions
    rg.roles.create("acme", "viewer")
    with pytest.raises(PermissionNotFound) as caught:
        rg.roles.grant("acme", "viewer", "reports:read")
    assert (caught.value.key, caught.value.tenant) == ("reports:read", "acme")
    assert caught.value.names == ("reports:read",)
    with pytest.raises(PermissionNotFound):
        rg.permissions.get("acme", "reports:read")
    for pattern in ("reports:*", "*:read", "*"):
        rg.roles.grant("acme", "viewer", pattern)
        assert rg.permissions.get("acme", pattern).is_pattern
    assert rg.roles.get("acme", "viewer").permissions == ("*", "*:read", "reports:*")
    rg.roles.create("acme", "other", permissions=["reports:*"])  # reuses the stored pattern
    events = audit_events(rg, action="permission.created")
    created = without_builtins(e.details["after"]["name"] for e in events)
    assert sorted(created) == ["*", "*:read", "documents:read", "documents:write", "reports:*"]


def test_a_malformed_grant_is_rejected(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer")
    for bad in ("docs:re*d", "documents", "Documents:read"):
        with pytest.raises(InvalidName):
            acme_permissions.roles.grant("acme", "viewer", bad)


def test_revoke_of_what_was_not_granted_is_not_found(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer", permissions=["documents:read"])
    for permission in ("documents:write", "never:created"):
        with pytest.raises(GrantNotFound):
            acme_permissions.roles.revoke("acme", "viewer", permission)
    assert acme_permissions.roles.get("acme", "viewer").permissions == ("documents:read",)


def test_a_revoked_pattern_stays_defined(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer", permissions=["reports:*"])
    acme_permissions.roles.revoke("acme", "viewer", "reports:*")
    assert acme_permissions.permissions.get("acme", "reports:*").is_pattern


# --- inheritance -------------------------------------------------------------------------------


def test_inherit_and_uninherit_are_audited(acme_permissions: Rolegate) -> None:
    rg = acme_permissions
    tenant = rg.tenants.get("acme")
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    editor = rg.roles.create("acme", "editor")
    rg.users.create("alice")
    rg.assignments.assign("acme", "alice", "editor")
    tail = AuditTail(rg)
    assert rg.roles.inherit("acme", "editor", "viewer").inherits == ("viewer",)
    assert rg.check("alice", "documents:read", tenant="acme")
    assert rg.roles.uninherit("acme", "editor", "viewer").inherits == ()
    assert not rg.check("alice", "documents:read", tenant="acme")
    events = tail.new_events()
    assert [summary(e) for e in events] == [
        {
            "action": action,
            "target_type": "role",
            "target_id": str(editor.id),
            "tenant_id": tenant.id,
            "actor": "system",
        }
        for action in ("role.inherited", "role.uninherited")
    ]
    assert [e.details for e in events] == [{"role": "editor", "inherited": "viewer"}] * 2


def test_inheriting_twice_is_rejected_and_a_missing_edge_is_not_found(
    acme_permissions: Rolegate,
) -> None:
    acme_permissions.roles.create("acme", "viewer")
    acme_permissions.roles.create("acme", "editor", inherits=["viewer"])
    with pytest.raises(InheritanceExists):
        acme_permissions.roles.inherit("acme", "editor", "viewer")
    with pytest.raises(InheritanceNotFound):
        acme_permissions.roles.uninherit("acme", "viewer", "editor")


def test_a_role_cannot_inherit_itself(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "viewer")
    tail = AuditTail(acme_permissions)
    with pytest.raises(InheritanceCycle) as caught:
        acme_permissions.roles.inherit("acme", "viewer", "viewer")
    assert caught.value.path == ["viewer", "viewer"]
    assert caught.value.tenant == "acme" and caught.value.code == "inheritance_cycle"
    assert tail.new_events() == []


def test_a_two_cycle_is_rejected_with_its_path(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "a")
    acme_permissions.roles.create("acme", "b", inherits=["a"])
    with pytest.raises(InheritanceCycle) as caught:
        acme_permissions.roles.inherit("acme", "a", "b")
    assert caught.value.path == ["a", "b", "a"]
    assert "a -> b -> a" in str(caught.value)
    assert acme_permissions.roles.get("acme", "a").inherits == ()


def test_a_three_cycle_is_rejected_with_its_path(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "a")
    acme_permissions.roles.create("acme", "b", inherits=["a"])
    acme_permissions.roles.create("acme", "c", inherits=["b"])
    tail = AuditTail(acme_permissions)
    with pytest.raises(InheritanceCycle) as caught:
        acme_permissions.roles.inherit("acme", "a", "c")
    assert caught.value.path == ["a", "c", "b", "a"]
    assert tail.new_events() == []
    assert count_rows(acme_permissions, "role_inheritance") == 2


def test_a_diamond_is_not_a_cycle(acme_permissions: Rolegate) -> None:
    acme_permissions.roles.create("acme", "base", permissions=["documents:read"])
    acme_permissions.roles.create("acme", "left", inherits=["base"])
    acme_permissions.roles.create("acme", "right", inherits=["base"])
    top = acme_permissions.roles.create("acme", "top", inherits=["left", "right"])
    assert top.inherits == ("left", "right")
    acme_permissions.users.create("alice")
    acme_permissions.assignments.assign("acme", "alice", "top")
    assert acme_permissions.check("alice", "documents:read", tenant="acme")
