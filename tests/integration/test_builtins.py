"""Built-ins on real databases: the ``rolegate:`` permissions and ``tenant-admin`` role every
tenant is given, their protection, migration 0004, the first platform admin, and the guard that
stops anyone handing out permissions they do not hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from sqlalchemy import insert, select, text

from rolegate import (
    BuiltinProtected,
    EscalationDenied,
    InvalidCredentials,
    InvalidPassword,
    PasswordChangeRequired,
    Rolegate,
    RoleNotFound,
    TenantProtected,
)
from rolegate.builtins import (
    DEFAULT_TENANT_ID,
    METRICS_READ,
    PLATFORM_PERMISSIONS,
    PLATFORM_TENANT_ID,
    ROLES_ESCALATE,
    ROLES_WRITE,
    TENANT_ADMIN,
    TENANT_PERMISSIONS,
)
from rolegate.db.base import Base
from rolegate.db.engine import Database
from rolegate.db.migrate import current_revision, upgrade
from rolegate.db.models import (
    MembershipRecord,
    RoleRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.entities import Principal
from tests.factories import (
    BOOTSTRAP_PASSWORD,
    FAST_HASHER,
    PASSWORD,
    AuditTail,
    bootstrap_admin,
    downgrade,
    is_builtin,
    member_with_password,
    stored_state,
)

PLATFORM_ONLY = set(PLATFORM_PERMISSIONS)
EVERY_TENANT = set(TENANT_PERMISSIONS)

# --- what every tenant is given ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [
        ("acme", EVERY_TENANT),  # created by the service
        ("default", EVERY_TENANT),  # seeded by migration 0004
        ("platform", EVERY_TENANT | PLATFORM_ONLY),
    ],
)
def test_a_tenant_has_exactly_the_builtin_permissions_and_tenant_admin_holds_them(
    rg: Rolegate, tenant: str, expected: set[str]
) -> None:
    rg.tenants.create("acme")
    permissions = {p.name: p for p in rg.permissions.list(tenant)}
    assert set(permissions) == expected
    wording = {**TENANT_PERMISSIONS, **PLATFORM_PERMISSIONS}
    assert all(p.description == wording[name] for name, p in permissions.items())
    [admin] = rg.roles.list(tenant)
    assert admin.name == TENANT_ADMIN
    assert set(admin.permissions) == expected and admin.inherits == ()
    assert all(is_builtin(r.name) for r in rg.resources.list(tenant))


def test_a_member_assigned_tenant_admin_holds_the_builtins_of_that_tenant_only(
    rg: Rolegate,
) -> None:
    member_with_password(rg, "alice", tenant="acme")
    rg.tenants.create("globex")
    rg.assignments.assign("acme", "alice", TENANT_ADMIN)
    assert all(rg.check("alice", name, tenant="acme") for name in EVERY_TENANT)
    assert not any(rg.check("alice", name, tenant="acme") for name in PLATFORM_ONLY)
    assert not rg.check("alice", "rolegate:users:read", tenant="globex")


# --- reserved names ----------------------------------------------------------------------------

Change = Callable[[Rolegate], object]

RESERVED_CHANGES: dict[str, Change] = {
    "create a built-in permission": lambda rg: rg.permissions.create("acme", "rolegate:check"),
    "create a new reserved permission": lambda rg: rg.permissions.create(
        "acme", "rolegate:reports:read"
    ),
    "create a reserved pattern": lambda rg: rg.permissions.create("acme", "rolegate:*"),
    "describe a built-in permission": lambda rg: rg.permissions.update(
        "acme", "rolegate:users:read", description="mine now"
    ),
    "delete a built-in permission": lambda rg: rg.permissions.delete("acme", "rolegate:audit:read"),
    "create the reserved resource": lambda rg: rg.resources.create("acme", "rolegate"),
    "create a reserved resource": lambda rg: rg.resources.create("acme", "rolegate:reports"),
    "describe a built-in resource": lambda rg: rg.resources.update(
        "acme", "rolegate:users", description="mine now"
    ),
    "delete a built-in resource": lambda rg: rg.resources.delete("acme", "rolegate:roles"),
    "delete the reserved resource": lambda rg: rg.resources.delete("acme", "rolegate"),
}


@pytest.fixture
def acme(rg: Rolegate) -> Rolegate:
    """``rg`` with tenant acme, its documents permissions and an ordinary role, viewer."""
    rg.tenants.create("acme")
    rg.permissions.create("acme", "documents:read")
    rg.permissions.create("acme", "documents:write")
    rg.roles.create("acme", "viewer", permissions=["documents:read"])
    return rg


@pytest.mark.parametrize("change", RESERVED_CHANGES.values(), ids=RESERVED_CHANGES.keys())
def test_names_under_rolegate_are_reserved(acme: Rolegate, change: Change) -> None:
    before, tail = stored_state(acme), AuditTail(acme)
    with pytest.raises(BuiltinProtected) as caught:
        change(acme)
    assert caught.value.code == "builtin_protected"
    assert stored_state(acme) == before
    assert tail.new_events() == []


TENANT_ADMIN_CHANGES: dict[str, Change] = {
    "rename": lambda rg: rg.roles.update("acme", TENANT_ADMIN, name="boss"),
    "describe": lambda rg: rg.roles.update("acme", TENANT_ADMIN, description="all of it"),
    "delete": lambda rg: rg.roles.delete("acme", TENANT_ADMIN),
    "grant": lambda rg: rg.roles.grant("acme", TENANT_ADMIN, "documents:read"),
    "revoke": lambda rg: rg.roles.revoke("acme", TENANT_ADMIN, "rolegate:users:write"),
    "inherit": lambda rg: rg.roles.inherit("acme", TENANT_ADMIN, "viewer"),
    "uninherit": lambda rg: rg.roles.uninherit("acme", TENANT_ADMIN, "viewer"),
}


@pytest.mark.parametrize("change", TENANT_ADMIN_CHANGES.values(), ids=TENANT_ADMIN_CHANGES.keys())
def test_tenant_admin_cannot_be_changed(acme: Rolegate, change: Change) -> None:
    before, tail = stored_state(acme), AuditTail(acme)
    with pytest.raises(BuiltinProtected):
        change(acme)
    assert stored_state(acme) == before
    assert tail.new_events() == []


def test_tenant_admin_can_be_assigned_and_unassigned(acme: Rolegate) -> None:
    acme.users.create("alice")
    acme.assignments.assign("acme", "alice", TENANT_ADMIN)
    assert [a.role for a in acme.assignments.list("acme")] == [TENANT_ADMIN]
    assert acme.check("alice", "rolegate:roles:write", tenant="acme")
    acme.assignments.unassign("acme", "alice", TENANT_ADMIN)
    assert not acme.check("alice", "rolegate:roles:write", tenant="acme")


@pytest.mark.parametrize("tenant", ["default", "platform"])
@pytest.mark.parametrize(
    "change",
    [
        lambda rg, tenant: rg.tenants.delete(tenant),
        lambda rg, tenant: rg.tenants.delete(rg.tenants.get(tenant).id),
        lambda rg, tenant: rg.tenants.rename(tenant, slug="elsewhere"),
    ],
    ids=["delete", "delete by id", "change the slug"],
)
def test_the_default_and_platform_tenants_stay(
    rg: Rolegate, tenant: str, change: Callable[[Rolegate, str], object]
) -> None:
    before, tail = stored_state(rg), AuditTail(rg)
    with pytest.raises(TenantProtected):
        change(rg, tenant)
    assert stored_state(rg) == before
    assert tail.new_events() == []


# --- migration 0004 on a database that already holds the names it needs ------------------------


@dataclass(frozen=True)
class Squatters:
    """What a database at 0003 held under the names 0004 needs."""

    tenant: UUID  # a tenant with slug "platform"
    roles: dict[UUID, UUID]  # tenant id -> its role called "tenant-admin"


def squat(db: Database) -> Squatters:
    """Insert, with SQL, a tenant called ``platform`` and roles called ``tenant-admin`` in it and
    in the default tenant; mallory holds the first of them."""
    squatter, user = uuid4(), uuid4()
    roles = {squatter: uuid4(), DEFAULT_TENANT_ID: uuid4()}
    with db.engine.begin() as connection:
        connection.execute(insert(TenantRecord).values(id=squatter, slug="platform", name="Ours"))
        for tenant_id, role_id in roles.items():
            connection.execute(
                insert(RoleRecord).values(
                    id=role_id, tenant_id=tenant_id, name=TENANT_ADMIN, description="ours"
                )
            )
        connection.execute(
            insert(UserRecord).values(id=user, username="mallory", username_key="mallory")
        )
        connection.execute(insert(MembershipRecord).values(tenant_id=squatter, user_id=user))
        connection.execute(
            insert(UserRoleRecord).values(
                user_id=user, role_id=roles[squatter], tenant_id=squatter, granted_by="sql"
            )
        )
    return Squatters(squatter, roles)


@pytest.fixture
def at_0003(empty_database_url: str) -> Iterator[Database]:
    """An empty database migrated to head, then back down to 0003 (before the built-ins)."""
    db = Database(empty_database_url)
    try:
        upgrade(db)
        downgrade(db, "0003")
        yield db
    finally:
        db.dispose()


def test_downgrading_0004_removes_every_builtin(at_0003: Database) -> None:
    assert current_revision(at_0003) == "0003"
    with at_0003.engine.connect() as connection:
        assert connection.execute(select(TenantRecord.slug)).scalars().all() == ["default"]
        for table in ("roles", "role_permissions", "permissions", "resources"):
            # Only the id: later migrations add columns an 0003 schema lacks.
            rows = connection.execute(select(Base.metadata.tables[table].c.id)).all()
            assert rows == [], table


def test_migration_0004_renames_what_squats_its_names_and_seeds_every_tenant(
    at_0003: Database, empty_database_url: str
) -> None:
    squatters = squat(at_0003)
    upgrade(at_0003)
    with Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=False) as rg:
        renamed = f"platform-{squatters.tenant.hex[:8]}"
        assert [t.slug for t in rg.tenants.list()] == ["default", "platform", renamed]
        assert rg.tenants.get("platform").id == PLATFORM_TENANT_ID
        assert rg.tenants.get(squatters.tenant).name == "Ours"
        for tenant_id, role_id in squatters.roles.items():
            old = rg.roles.get(tenant_id, role_id)
            assert old.name == f"{TENANT_ADMIN}-{role_id.hex[:8]}"
            assert (old.description, old.permissions) == ("ours", ())
            new = rg.roles.get(tenant_id, TENANT_ADMIN)
            assert new.id != role_id and set(new.permissions) == EVERY_TENANT
        for tenant, expected in (
            ("default", EVERY_TENANT),
            (renamed, EVERY_TENANT),
            ("platform", EVERY_TENANT | PLATFORM_ONLY),
        ):
            assert {p.name for p in rg.permissions.list(tenant)} == expected
            assert set(rg.roles.get(tenant, TENANT_ADMIN).permissions) == expected
        # The squatting role's holder gained nothing, here or in the real platform tenant.
        squatting_role = f"{TENANT_ADMIN}-{squatters.roles[squatters.tenant].hex[:8]}"
        assert [a.role for a in rg.assignments.list(renamed)] == [squatting_role]
        assert rg.permissions_of("mallory", tenant=renamed) == ()
        assert rg.assignments.list("platform") == []


# --- migration 0007: rolegate:metrics:read on a populated database -----------------------------


def platform_metrics_state(rg: Rolegate) -> tuple[bool, bool, list[str]]:
    """Whether the platform tenant has ``rolegate:metrics:read``, whether its ``tenant-admin``
    holds it, and who holds ``tenant-admin`` there."""
    has = METRICS_READ in {p.name for p in rg.permissions.list("platform")}
    held = METRICS_READ in rg.roles.get("platform", TENANT_ADMIN).permissions
    return has, held, [a.username for a in rg.assignments.list("platform")]


def test_migration_0007_grants_the_metrics_permission_to_the_platform_admins_and_back(
    empty_database_url: str,
) -> None:
    with Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=True) as rg:
        member_with_password(rg, "root", tenant="platform")
        rg.assignments.assign("platform", "root", TENANT_ADMIN)
        rg.roles.create("platform", "scraper", permissions=["rolegate:metrics:read"])
        member_with_password(rg, "alice", tenant="acme")
        before = stored_state(rg)
    db = Database(empty_database_url)
    try:
        downgrade(db, "0006")
        with db.engine.connect() as connection:  # SQL: the current models may not fit 0006
            names = connection.execute(select(Base.metadata.tables["permissions"].c.name))
            assert METRICS_READ not in names.scalars().all()
            resources = connection.execute(select(Base.metadata.tables["resources"].c.name))
            assert "rolegate:metrics" not in resources.scalars().all()
        upgrade(db)
        upgrade(db)  # at head already: nothing more
        assert current_revision(db) == "0007"
    finally:
        db.dispose()
    with Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=False) as rg:
        assert platform_metrics_state(rg) == (True, True, ["root"])
        assert rg.check("root", METRICS_READ, tenant="platform")
        assert rg.roles.get("platform", "scraper").permissions == ()  # taken away, not restored
        after = stored_state(rg)
    # Nothing else was lost or changed; two grants were dropped, one was made again.
    assert len(after.pop("role_permissions")) == len(before.pop("role_permissions")) - 1
    for table in ("policy_state", "policy_changes"):
        after.pop(table), before.pop(table)
    for table in ("permissions", "resources"):
        for state in (before, after):
            state[table] = [row for row in state[table] if "rolegate:metrics" not in row]
    assert after == before


def test_migration_0007_reuses_what_is_already_there(empty_database_url: str) -> None:
    """Run again over its own result (its revision stamp set back), 0007 adds nothing twice."""
    db = Database(empty_database_url)
    try:
        upgrade(db)
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0006'"))
        upgrade(db)
        with db.engine.connect() as connection:
            tables = Base.metadata.tables
            permissions = tables["permissions"]
            found = connection.execute(
                select(permissions.c.id).where(permissions.c.name == METRICS_READ)
            ).all()
            assert len(found) == 1
            grants = tables["role_permissions"]
            granted = connection.execute(
                select(grants.c.id).where(grants.c.permission_id == found[0].id)
            ).all()
            assert len(granted) == 1
    finally:
        db.dispose()


# --- the first platform admin ------------------------------------------------------------------


def test_bootstrap_makes_one_platform_admin_with_a_random_password(rg: Rolegate) -> None:
    made = rg.platform.bootstrap()
    assert made is not None
    user, password = made
    assert user.username == "admin" and len(password) >= 20
    assert rg.platform.bootstrap() is None
    assert rg.platform.bootstrap(username="second", password=PASSWORD) is None
    assert [(a.username, a.role) for a in rg.assignments.list("platform")] == [
        ("admin", TENANT_ADMIN)
    ]
    with pytest.raises(PasswordChangeRequired):  # single-use: the first login replaces it
        rg.auth.login("admin", password, tenant="platform")
    pair = rg.auth.login("admin", password, tenant="platform", new_password=PASSWORD)
    principal = rg.auth.verify(pair.access_token)
    assert (principal.user_id, principal.tenant_id) == (user.id, PLATFORM_TENANT_ID)
    assert rg.check("admin", "rolegate:tenants:write", tenant="platform")


def test_a_bootstrap_password_must_satisfy_the_policy(rg: Rolegate) -> None:
    with pytest.raises(InvalidPassword):
        rg.platform.bootstrap(username="root", password="short")
    assert rg.users.list() == [] and not rg.platform.has_members()
    made = rg.platform.bootstrap(username="root", password=PASSWORD)
    assert made is not None and made[1] == PASSWORD
    with pytest.raises(PasswordChangeRequired):
        rg.auth.login("root", PASSWORD, tenant="platform")
    assert rg.users.get("root").must_change_password


def test_the_bootstrap_password_works_for_one_login_which_sets_a_new_one(rg: Rolegate) -> None:
    made = rg.platform.bootstrap(username="root", password=BOOTSTRAP_PASSWORD)
    assert made is not None and rg.users.get("root").must_change_password
    with pytest.raises(PasswordChangeRequired):
        rg.auth.login("root", BOOTSTRAP_PASSWORD, tenant="platform")
    with pytest.raises(InvalidPassword):  # the new one must differ
        rg.auth.login(
            "root", BOOTSTRAP_PASSWORD, tenant="platform", new_password=BOOTSTRAP_PASSWORD
        )
    pair = rg.auth.login("root", BOOTSTRAP_PASSWORD, tenant="platform", new_password=PASSWORD)
    assert pair.session.is_active and not rg.users.get("root").must_change_password
    with pytest.raises(InvalidCredentials):  # used up
        rg.auth.login("root", BOOTSTRAP_PASSWORD, tenant="platform")
    assert rg.auth.login("root", PASSWORD, tenant="platform").session.is_active


# --- no privilege escalation -------------------------------------------------------------------


@pytest.fixture
def guarded(acme: Rolegate) -> Rolegate:
    """acme, plus roles writer (documents:write), senior (inherits writer), blank (nothing),
    and members bob (no role) and carol, a role manager who may read documents herself."""
    rg = acme
    rg.roles.create("acme", "writer", permissions=["documents:write"])
    rg.roles.create("acme", "senior", inherits=["writer"])
    rg.roles.create("acme", "blank")
    rg.roles.create("acme", "manager", permissions=[ROLES_WRITE, "documents:read"])
    rg.roles.create("acme", "escalator", permissions=[ROLES_WRITE, ROLES_ESCALATE])
    member_with_password(rg, "carol", tenant="acme")
    rg.assignments.assign("acme", "carol", "manager")
    rg.users.create("bob")
    rg.memberships.add("acme", "bob")
    return rg


def session_of(rg: Rolegate, username: str, *, tenant: str) -> Principal:
    """The principal of a fresh login of ``username`` in ``tenant``."""
    return rg.auth.verify(rg.auth.login(username, PASSWORD, tenant=tenant).access_token)


Attempt = Callable[[Rolegate, Principal], object]

#: Each hands out only ``documents:read``, which the manager holds.
WITHIN_REACH: dict[str, Attempt] = {
    "create": lambda rg, me: rg.roles.create(
        "acme", "reader", permissions=["documents:read"], caller=me
    ),
    "grant": lambda rg, me: rg.roles.grant("acme", "blank", "documents:read", caller=me),
    "inherit": lambda rg, me: rg.roles.inherit("acme", "blank", "viewer", caller=me),
    "assign": lambda rg, me: rg.assignments.assign("acme", "bob", "viewer", caller=me),
    "assign to oneself": lambda rg, me: rg.assignments.assign("acme", "carol", "viewer", caller=me),
}

#: Each hands out more than the manager holds: (the attempt, its audited name, what is missing).
BEYOND_REACH: dict[str, tuple[Attempt, str, list[str]]] = {
    "create granting": (
        lambda rg, me: rg.roles.create("acme", "w", permissions=["documents:write"], caller=me),
        "role.create",
        ["documents:write"],
    ),
    "create inheriting": (
        lambda rg, me: rg.roles.create("acme", "w", inherits=["senior"], caller=me),
        "role.create",
        ["documents:write"],
    ),
    "grant": (
        lambda rg, me: rg.roles.grant("acme", "blank", "documents:write", caller=me),
        "role.grant",
        ["documents:write"],
    ),
    "grant a wider pattern": (
        lambda rg, me: rg.roles.grant("acme", "blank", "documents:*", caller=me),
        "role.grant",
        ["documents:*"],
    ),
    "inherit": (
        lambda rg, me: rg.roles.inherit("acme", "blank", "senior", caller=me),
        "role.inherit",
        ["documents:write"],
    ),
    "assign": (
        lambda rg, me: rg.assignments.assign("acme", "bob", "senior", caller=me),
        "role.assign",
        ["documents:write"],
    ),
    "assign to oneself": (
        lambda rg, me: rg.assignments.assign("acme", "carol", "senior", caller=me),
        "role.assign",
        ["documents:write"],
    ),
}


@pytest.mark.parametrize("attempt", WITHIN_REACH.values(), ids=WITHIN_REACH.keys())
def test_a_caller_may_hand_out_what_it_holds(guarded: Rolegate, attempt: Attempt) -> None:
    carol = session_of(guarded, "carol", tenant="acme")
    before = stored_state(guarded)
    attempt(guarded, carol)
    assert stored_state(guarded) != before


@pytest.mark.parametrize(
    ("attempt", "action", "missing"), BEYOND_REACH.values(), ids=BEYOND_REACH.keys()
)
def test_a_caller_may_not_hand_out_what_it_does_not_hold(
    guarded: Rolegate, attempt: Attempt, action: str, missing: list[str]
) -> None:
    carol = session_of(guarded, "carol", tenant="acme")
    before, tail = stored_state(guarded), AuditTail(guarded)
    with pytest.raises(EscalationDenied) as caught:
        attempt(guarded, carol)
    assert caught.value.missing == missing and caught.value.code == "escalation_denied"
    assert stored_state(guarded) == before
    with pytest.raises(RoleNotFound):
        guarded.roles.get("acme", "w")
    [event] = tail.new_events()
    assert (event.action, event.actor, event.tenant_id) == (
        "authz.escalation_denied",
        str(carol.user_id),
        guarded.tenants.get("acme").id,
    )
    assert event.details == {"attempted": action, "missing": missing}


@pytest.mark.parametrize(
    ("attempt", "action", "missing"), BEYOND_REACH.values(), ids=BEYOND_REACH.keys()
)
def test_a_caller_holding_escalate_may_hand_out_anything(
    guarded: Rolegate, attempt: Attempt, action: str, missing: list[str]
) -> None:
    guarded.assignments.assign("acme", "carol", "escalator")
    carol = session_of(guarded, "carol", tenant="acme")
    tail = AuditTail(guarded)
    attempt(guarded, carol)
    assert "authz.escalation_denied" not in tail.new_actions()


@pytest.fixture
def platform_helper(guarded: Rolegate) -> Rolegate:
    """``guarded``, plus pat: in the platform tenant a role manager who may read documents, and
    in acme itself a writer."""
    rg = guarded
    rg.permissions.create("platform", "documents:read")
    rg.roles.create("platform", "helper", permissions=[ROLES_WRITE, "documents:read"])
    member_with_password(rg, "pat", tenant="platform")
    rg.assignments.assign("platform", "pat", "helper")
    rg.assignments.assign("acme", "pat", "writer")
    return rg


def test_a_platform_session_in_another_tenant_is_governed_by_its_platform_grants(
    platform_helper: Rolegate,
) -> None:
    rg = platform_helper
    pat = session_of(rg, "pat", tenant="platform")
    rg.roles.grant("acme", "blank", "documents:read", caller=pat)
    # pat writes documents in acme, but a platform session counts only platform grants.
    with pytest.raises(EscalationDenied) as caught:
        rg.roles.grant("acme", "blank", "documents:write", caller=pat)
    assert caught.value.missing == ["documents:write"]
    assert rg.roles.get("acme", "blank").permissions == ("documents:read",)


@pytest.mark.parametrize(
    ("attempt", "action", "missing"), BEYOND_REACH.values(), ids=BEYOND_REACH.keys()
)
def test_a_platform_admin_may_hand_out_anything_in_any_tenant(
    guarded: Rolegate, attempt: Attempt, action: str, missing: list[str]
) -> None:
    bootstrap_admin(guarded)
    root = session_of(guarded, "root", tenant="platform")  # not even a member of acme
    tail = AuditTail(guarded)
    attempt(guarded, root)
    assert "authz.escalation_denied" not in tail.new_actions()


def test_a_reserved_pattern_made_by_a_grant_can_be_deleted_again(rg: Rolegate) -> None:
    rg.tenants.create("acme")
    rg.roles.create("acme", "auditors", permissions=["rolegate:*"])
    assert "rolegate:*" in [p.name for p in rg.permissions.list("acme")]
    rg.permissions.delete("acme", "rolegate:*")
    assert rg.roles.get("acme", "auditors").permissions == ()
    with pytest.raises(BuiltinProtected):
        rg.permissions.delete("acme", "rolegate:check")
