"""Tenants on real databases: life cycle, audit events, the protected default tenant, cascades."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from rolegate import (
    InvalidInput,
    InvalidName,
    Rolegate,
    TenantExists,
    TenantNotFound,
    TenantProtected,
)
from rolegate.builtins import DEFAULT_TENANT_ID, PLATFORM_TENANT_ID, TENANT_PERMISSIONS
from tests.factories import (
    AuditTail,
    FakeClock,
    audit_events,
    build_documents_policy,
    count_rows,
    is_builtin,
    summary,
)

#: The tables whose every row belongs to one tenant.
TENANT_TABLES = [
    "roles",
    "permissions",
    "resources",
    "role_permissions",
    "role_inheritance",
    "memberships",
    "user_roles",
]


def rows_of(rg: Rolegate, tenant_id: UUID) -> dict[str, int]:
    """How many rows of each of :data:`TENANT_TABLES` belong to the tenant."""
    return {table: count_rows(rg, table, tenant_id=tenant_id) for table in TENANT_TABLES}


def test_the_default_and_platform_tenants_exist_on_a_fresh_database(rg: Rolegate) -> None:
    [default, platform] = rg.tenants.list()
    assert (default.id, default.slug, default.name) == (DEFAULT_TENANT_ID, "default", "Default")
    assert (platform.id, platform.slug, platform.name) == (
        PLATFORM_TENANT_ID,
        "platform",
        "Platform",
    )
    assert rg.tenants.get(DEFAULT_TENANT_ID) == default
    assert rg.tenants.get(PLATFORM_TENANT_ID) == platform


def test_create_stores_the_tenant_and_one_tenant_event(rg: Rolegate, clock: FakeClock) -> None:
    tail = AuditTail(rg)
    tenant = rg.tenants.create("acme", name="  Acme Inc.  ", actor="admin:1")
    assert (tenant.slug, tenant.name) == ("acme", "Acme Inc.")
    assert tenant.created_at == tenant.updated_at == clock.now
    assert rg.tenants.get("acme") == tenant == rg.tenants.get(tenant.id)
    assert rg.tenants.get(str(tenant.id)) == tenant
    events = tail.new_events()
    [event] = [e for e in events if e.action.startswith("tenant.")]
    # The rest record the built-ins every new tenant is given, in the same tenant.
    builtins = [e for e in events if e is not event]
    assert {e.action for e in builtins} == {
        "permission.created",
        "resource.created",
        "role.created",
    }
    assert all(is_builtin(e.details["after"]["name"]) for e in builtins)
    assert {e.tenant_id for e in builtins} == {tenant.id}
    assert summary(event) == {
        "action": "tenant.created",
        "target_type": "tenant",
        "target_id": str(tenant.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {"after": {"slug": "acme", "name": "Acme Inc."}}
    assert event.occurred_at == clock.now


def test_the_display_name_defaults_to_the_slug_and_the_actor_to_system(rg: Rolegate) -> None:
    tenant = rg.tenants.create("globex")
    assert tenant.name == "globex"
    [event] = audit_events(rg, action="tenant.created")
    assert event.actor == "system"


def test_list_is_ordered_by_slug(rg: Rolegate) -> None:
    for slug in ("zeta", "acme", "m-2"):
        rg.tenants.create(slug)
    assert [t.slug for t in rg.tenants.list()] == ["acme", "default", "m-2", "platform", "zeta"]


def test_a_slug_is_unique(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    tail = AuditTail(rg)
    with pytest.raises(TenantExists) as caught:
        rg.tenants.create("acme", name="Another")
    assert caught.value.key == "acme" and caught.value.code == "tenant_exists"
    assert tail.new_events() == []
    assert rg.tenants.get("acme").name == "acme"


@pytest.mark.parametrize("slug", ["Acme", "-acme", "", "a" * 64, "ac_me"])
def test_a_malformed_slug_is_rejected_before_anything_is_written(rg: Rolegate, slug: str) -> None:
    tail = AuditTail(rg)
    with pytest.raises(InvalidName):
        rg.tenants.create(slug)
    assert tail.new_events() == []
    assert [t.slug for t in rg.tenants.list()] == ["default", "platform"]


@pytest.mark.parametrize("name", ["", "   ", "n" * 201])
def test_a_display_name_must_be_1_to_200_characters(rg: Rolegate, name: str) -> None:
    with pytest.raises(InvalidInput, match="1-200"):
        rg.tenants.create("acme", name=name)
    with pytest.raises(TenantNotFound):
        rg.tenants.get("acme")


def test_unknown_tenants_are_not_found(rg: Rolegate) -> None:
    for ref in ("nope", uuid4(), str(uuid4())):
        with pytest.raises(TenantNotFound) as caught:
            rg.tenants.get(ref)
        assert caught.value.key == str(ref)


def test_rename_changes_slug_and_name_and_audits_before_and_after(
    rg: Rolegate, clock: FakeClock
) -> None:
    created = rg.tenants.create("acme", name="Acme")
    clock.advance(timedelta(minutes=5))
    tail = AuditTail(rg)
    renamed = rg.tenants.rename("acme", slug="acme-corp", name="Acme Corp")
    assert (renamed.id, renamed.slug, renamed.name) == (created.id, "acme-corp", "Acme Corp")
    assert renamed.updated_at == clock.now and renamed.created_at == created.created_at
    with pytest.raises(TenantNotFound):
        rg.tenants.get("acme")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "tenant.updated",
        "target_type": "tenant",
        "target_id": str(created.id),
        "tenant_id": created.id,
        "actor": "system",
    }
    assert event.details == {
        "before": {"slug": "acme", "name": "Acme"},
        "after": {"slug": "acme-corp", "name": "Acme Corp"},
    }


def test_rename_to_a_taken_slug_is_rejected(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.tenants.create("globex")
    tail = AuditTail(rg)
    with pytest.raises(TenantExists):
        rg.tenants.rename("globex", slug="acme")
    assert tail.new_events() == []
    assert [t.slug for t in rg.tenants.list()] == ["acme", "default", "globex", "platform"]


def test_the_default_tenant_keeps_its_slug_but_may_change_its_name(rg: Rolegate) -> None:
    with pytest.raises(TenantProtected) as caught:
        rg.tenants.rename("default", slug="main")
    assert caught.value.code == "tenant_protected"
    assert rg.tenants.rename("default", name="Main").name == "Main"
    assert rg.tenants.get("default").slug == "default"


def test_the_default_tenant_cannot_be_deleted(rg: Rolegate) -> None:
    tail = AuditTail(rg)
    for ref in ("default", DEFAULT_TENANT_ID):
        with pytest.raises(TenantProtected):
            rg.tenants.delete(ref)
    assert tail.new_events() == []
    assert rg.tenants.get("default").id == DEFAULT_TENANT_ID


def test_delete_removes_everything_in_the_tenant_and_keeps_its_audit_trail(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    build_documents_policy(rg, "globex")
    acme = rg.tenants.get("acme")
    before = {e.id for e in audit_events(rg) if e.tenant_id == acme.id}
    others = [t.id for t in rg.tenants.list() if t.id != acme.id]
    assert all(rows_of(rg, acme.id).values())  # acme has rows in every table to lose
    kept = {tenant: rows_of(rg, tenant) for tenant in others}
    tail = AuditTail(rg)

    rg.tenants.delete("acme", actor="admin:1")

    with pytest.raises(TenantNotFound):
        rg.tenants.get("acme")
    assert not rg.check("alice", "documents:read", tenant="acme")
    # Nothing of acme is left in any table that belongs to a tenant, and nothing of the other
    # tenants went with it; the user is global.
    assert rows_of(rg, acme.id) == dict.fromkeys(TENANT_TABLES, 0)
    assert {tenant: rows_of(rg, tenant) for tenant in others} == kept
    assert rg.users.get("alice").username == "alice"
    assert rg.check("alice", "documents:read", tenant="globex")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "tenant.deleted",
        "target_type": "tenant",
        "target_id": str(acme.id),
        "tenant_id": acme.id,
        "actor": "admin:1",
    }
    assert event.details == {
        "before": {"slug": "acme", "name": "Acme Inc."},
        # with the built-in tenant-admin role and rolegate: permissions
        "cascaded": {
            "roles": 3 + 1,
            "permissions": 3 + len(TENANT_PERMISSIONS),
            "memberships": 1,
            "sessions": 0,
        },
    }
    trail = {e.id for e in audit_events(rg) if e.tenant_id == acme.id}
    assert before < trail  # the trail outlives the tenant, with the deletion added to it


def test_delete_of_an_unknown_tenant_is_not_found(rg: Rolegate) -> None:
    with pytest.raises(TenantNotFound):
        rg.tenants.delete("nope")


def test_a_deleted_slug_can_be_used_again(rg: Rolegate) -> None:
    first = rg.tenants.create("acme")
    rg.tenants.delete("acme")
    second = rg.tenants.create("acme")
    assert second.id != first.id
