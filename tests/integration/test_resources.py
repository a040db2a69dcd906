"""Resources on real databases: life cycle, on-demand creation, cascades to permissions."""

from __future__ import annotations

import pytest

from rolegate import (
    InvalidInput,
    InvalidName,
    PermissionNotFound,
    ResourceExists,
    ResourceNotFound,
    Rolegate,
)
from tests.factories import (
    AuditTail,
    build_documents_policy,
    count_rows,
    is_builtin,
    summary,
    without_builtins,
)


def test_create_get_list_and_audit(rg: Rolegate) -> None:
    tenant = rg.tenants.create("acme")
    tail = AuditTail(rg)
    resource = rg.resources.create("acme", "billing:invoices", description=" Invoices ")
    rg.resources.create("acme", "documents")
    assert (resource.tenant, resource.name, resource.description) == (
        "acme",
        "billing:invoices",
        "Invoices",
    )
    assert rg.resources.get("acme", "billing:invoices") == resource
    listed = without_builtins(r.name for r in rg.resources.list("acme"))
    assert listed == ["billing:invoices", "documents"]
    events = {e.target_id: e for e in tail.new_events()}
    assert len(events) == 2
    first = events[str(resource.id)]
    assert summary(first) == {
        "action": "resource.created",
        "target_type": "resource",
        "target_id": str(resource.id),
        "tenant_id": tenant.id,
        "actor": "system",
    }
    assert first.details == {"after": {"name": "billing:invoices", "description": "Invoices"}}


def test_a_resource_name_is_unique_per_tenant(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.tenants.create("globex")
    rg.resources.create("acme", "documents")
    rg.resources.create("globex", "documents")
    tail = AuditTail(rg)
    with pytest.raises(ResourceExists) as caught:
        rg.resources.create("acme", "documents")
    assert (caught.value.key, caught.value.tenant) == ("documents", "acme")
    assert tail.new_events() == []


@pytest.mark.parametrize("name", ["Documents", "a::b", "docs:*", "", "r" * 256])
def test_a_malformed_name_is_rejected(rg: Rolegate, name: str) -> None:
    before = rg.resources.list("default")
    with pytest.raises(InvalidName):
        rg.resources.create("default", name)
    assert rg.resources.list("default") == before


def test_a_description_is_at_most_1000_characters(rg: Rolegate) -> None:
    with pytest.raises(InvalidInput, match="1000"):
        rg.resources.create("default", "documents", description="d" * 1001)


def test_a_permission_creates_its_resource_on_demand(rg: Rolegate) -> None:
    tenant = rg.tenants.create("acme")
    tail = AuditTail(rg)
    rg.permissions.create("acme", "billing:invoices:read")
    rg.permissions.create("acme", "billing:invoices:pay")
    [resource] = [r for r in rg.resources.list("acme") if not is_builtin(r.name)]
    assert resource.name == "billing:invoices"
    created = [e for e in tail.new_events() if e.action == "resource.created"]
    assert [(e.target_id, e.tenant_id, e.details) for e in created] == [
        (str(resource.id), tenant.id, {"after": {"name": "billing:invoices"}})
    ]


def test_update_changes_the_description_and_audits_it(rg: Rolegate) -> None:
    resource = rg.resources.create("default", "documents", description="old")
    tail = AuditTail(rg)
    assert rg.resources.update("default", "documents", description="new").description == "new"
    [event] = tail.new_events()
    assert (event.action, event.target_id) == ("resource.updated", str(resource.id))
    assert event.details == {"before": {"description": "old"}, "after": {"description": "new"}}


def test_delete_removes_its_permissions_and_their_grants(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    tenant, resource = rg.tenants.get("acme"), rg.resources.get("acme", "documents")
    grants = count_rows(rg, "role_permissions")
    tail = AuditTail(rg)

    rg.resources.delete("acme", "documents", actor="admin:1")

    with pytest.raises(ResourceNotFound):
        rg.resources.get("acme", "documents")
    with pytest.raises(PermissionNotFound):
        rg.permissions.get("acme", "documents:read")
    assert rg.roles.get("acme", "viewer").permissions == ()
    assert rg.roles.get("acme", "editor").permissions == ("reports:*",)
    assert count_rows(rg, "role_permissions") == grants - 2  # documents:read and :write
    assert not rg.check("alice", "documents:read", tenant="acme")
    assert rg.check("alice", "reports:q1", tenant="acme")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "resource.deleted",
        "target_type": "resource",
        "target_id": str(resource.id),
        "tenant_id": tenant.id,
        "actor": "admin:1",
    }
    assert event.details == {
        "before": {"name": "documents"},
        "cascaded": {"permissions": ["documents:read", "documents:write"]},
    }


def test_a_resource_of_another_tenant_is_not_found(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.resources.create("acme", "documents")
    for call in (
        lambda: rg.resources.get("default", "documents"),
        lambda: rg.resources.update("default", "documents", description="x"),
        lambda: rg.resources.delete("default", "documents"),
    ):
        with pytest.raises(ResourceNotFound):
            call()
    assert rg.resources.get("acme", "documents").description == ""
