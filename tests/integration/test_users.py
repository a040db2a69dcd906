"""Users on real databases: accounts, case-insensitive uniqueness, passwords, audit, cascades."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from rolegate import (
    InvalidInput,
    InvalidPassword,
    Rolegate,
    UserExists,
    UserNotFound,
)
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    AuditTail,
    FakeClock,
    audit_json,
    build_documents_policy,
    count_rows,
    stored_password_hash,
    summary,
)


def test_create_stores_the_profile_and_audits_it(rg: Rolegate, clock: FakeClock) -> None:
    tail = AuditTail(rg)
    user = rg.users.create(
        "alice",
        email=" Alice@Example.com ",
        full_name=" Alice Liddell ",
        preferences={"theme": "dark"},
        actor="admin:1",
    )
    assert (user.username, user.email, user.full_name) == (
        "alice",
        "Alice@example.com",  # trimmed, its domain lowercased (email-validator's normal form)
        "Alice Liddell",
    )
    assert user.is_active and not user.has_password and user.last_login_at is None
    assert user.preferences == {"theme": "dark"}
    assert user.created_at == user.updated_at == clock.now
    assert rg.users.get("alice") == user == rg.users.get(user.id) == rg.users.get(str(user.id))
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "user.created",
        "target_type": "user",
        "target_id": str(user.id),
        "tenant_id": None,
        "actor": "admin:1",
    }
    assert event.details == {
        "after": {
            "username": "alice",
            "email": "Alice@example.com",
            "full_name": "Alice Liddell",
            "is_active": True,
            "preferences": {"theme": "dark"},
        },
        "has_password": False,
    }


def test_a_password_is_stored_as_argon2id_only_and_never_audited(rg: Rolegate) -> None:
    user = rg.users.create("alice", password=PASSWORD)
    assert user.has_password
    encoded = stored_password_hash(rg, "alice")
    assert encoded is not None and encoded.startswith("$argon2id$")
    assert FAST_HASHER.verify(PASSWORD, encoded)
    new_password = "another long passphrase 42"
    rg.users.set_password("alice", new_password)
    rg.users.update("alice", full_name="Alice")
    rg.users.create("bob", password="ｆｕｌｌｗｉｄｔｈ passphrase")  # stored in NFKC form
    assert FAST_HASHER.verify(new_password, stored_password_hash(rg, "alice") or "")
    assert FAST_HASHER.verify("fullwidth passphrase", stored_password_hash(rg, "bob") or "")
    trail = audit_json(rg)
    for secret in (PASSWORD, new_password, "fullwidth passphrase", "ｆｕｌｌｗｉｄｔｈ", "$argon2"):
        assert secret not in trail
    assert '"has_password": true' in trail.replace('\\"', '"')


def test_set_and_clear_password_are_audited_without_the_password(
    rg: Rolegate, clock: FakeClock
) -> None:
    user = rg.users.create("alice")
    clock.advance(timedelta(seconds=1))
    tail = AuditTail(rg)
    updated = rg.users.set_password("ALICE", PASSWORD, actor="alice")
    assert updated.has_password and updated.updated_at == clock.now
    cleared = rg.users.clear_password(user.id)
    assert not cleared.has_password
    assert stored_password_hash(rg, "alice") is None
    events = tail.new_events()
    assert [summary(e) for e in events] == [
        {
            "action": "user.password_cleared",
            "target_type": "user",
            "target_id": str(user.id),
            "tenant_id": None,
            "actor": "system",
        },
        {
            "action": "user.password_set",
            "target_type": "user",
            "target_id": str(user.id),
            "tenant_id": None,
            "actor": "alice",
        },
    ]
    assert [e.details for e in events] == [{}, {"must_change": False, "sessions_ended": 0}]
    assert PASSWORD not in repr([e.details for e in events])


@pytest.mark.parametrize("password", ["short", "x" * 11, "é" * 1025])
def test_a_password_breaking_the_policy_is_rejected_and_nothing_is_stored(
    rg: Rolegate, password: str
) -> None:
    tail = AuditTail(rg)
    with pytest.raises(InvalidPassword):
        rg.users.create("alice", password=password)
    with pytest.raises(UserNotFound):
        rg.users.get("alice")
    rg.users.create("alice")
    with pytest.raises(InvalidPassword):
        rg.users.set_password("alice", password)
    assert not rg.users.get("alice").has_password
    assert tail.new_actions() == ["user.created"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("alice", "alice"), ("Alice", "alice"), ("alice", "ALICE"), ("alice", "ａｌｉｃｅ")],
)
def test_usernames_are_unique_case_insensitively(rg: Rolegate, first: str, second: str) -> None:
    rg.users.create(first)
    tail = AuditTail(rg)
    with pytest.raises(UserExists) as caught:
        rg.users.create(second)
    assert caught.value.code == "user_exists"
    assert tail.new_events() == []
    assert len(rg.users.list()) == 1
    assert rg.users.get(second).username == first


def test_emails_are_unique_case_insensitively(rg: Rolegate) -> None:
    rg.users.create("alice", email="alice@example.com")
    with pytest.raises(UserExists):
        rg.users.create("bob", email="ALICE@Example.COM")
    rg.users.create("bob")
    rg.users.create("carol")  # several users may have no email
    with pytest.raises(UserExists):
        rg.users.update("bob", email="Alice@example.com")
    assert rg.users.get("bob").email is None


def test_a_user_may_change_the_case_of_their_own_name_and_email(rg: Rolegate) -> None:
    rg.users.create("alice", email="alice@example.com")
    user = rg.users.update("alice", username="Alice", email="ALICE@example.com")
    assert (user.username, user.email) == ("Alice", "ALICE@example.com")


def test_a_username_taken_by_another_user_cannot_be_taken_by_update(rg: Rolegate) -> None:
    rg.users.create("alice")
    rg.users.create("bob")
    with pytest.raises(UserExists):
        rg.users.update("bob", username="ALICE")
    assert rg.users.get("bob").username == "bob"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"username": "has space"},
        {"username": "ß" * 150},  # 150 characters whose case-folded key is 300 long
        {"username": "alice", "email": "not-an-email"},
        {"username": "alice", "full_name": "n" * 201},
        {"username": "alice", "preferences": {"when": object()}},
        {"username": "alice", "preferences": {"ratio": float("nan")}},
        {"username": "alice", "preferences": ["not", "an", "object"]},
    ],
)
def test_bad_input_is_a_typed_error_and_writes_nothing(
    rg: Rolegate, kwargs: dict[str, Any]
) -> None:
    tail = AuditTail(rg)
    with pytest.raises(InvalidInput):
        rg.users.create(**kwargs)
    assert rg.users.list() == []
    assert tail.new_events() == []


def test_update_changes_the_profile_and_audits_before_and_after(
    rg: Rolegate, clock: FakeClock
) -> None:
    user = rg.users.create("alice", email="alice@example.com", full_name="Alice")
    clock.advance(timedelta(minutes=1))
    tail = AuditTail(rg)
    updated = rg.users.update(
        "alice",
        username="alice.l",
        email=None,
        full_name="Alice L.",
        preferences={"lang": "fr"},
        actor="admin:1",
    )
    assert (updated.id, updated.username, updated.email) == (user.id, "alice.l", None)
    assert (updated.full_name, updated.preferences) == ("Alice L.", {"lang": "fr"})
    assert updated.updated_at == clock.now
    with pytest.raises(UserNotFound):
        rg.users.get("alice")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "user.updated",
        "target_type": "user",
        "target_id": str(user.id),
        "tenant_id": None,
        "actor": "admin:1",
    }
    assert event.details == {
        "before": {
            "username": "alice",
            "email": "alice@example.com",
            "full_name": "Alice",
            "is_active": True,
            "preferences": {},
        },
        "after": {
            "username": "alice.l",
            "email": None,
            "full_name": "Alice L.",
            "is_active": True,
            "preferences": {"lang": "fr"},
        },
    }


def test_update_leaves_unnamed_fields_alone(rg: Rolegate) -> None:
    rg.users.create("alice", email="alice@example.com", full_name="Alice")
    user = rg.users.update("alice", full_name="Alice L.")
    assert (user.username, user.email, user.full_name) == ("alice", "alice@example.com", "Alice L.")


def test_deactivate_and_activate_are_audited(rg: Rolegate) -> None:
    user = rg.users.create("alice")
    tail = AuditTail(rg)
    assert not rg.users.deactivate("alice").is_active
    assert rg.users.list(active=False) == [rg.users.get("alice")]
    assert rg.users.list(active=True) == []
    assert rg.users.activate("alice").is_active
    events = tail.new_events()
    assert [(e.action, e.target_id) for e in events] == [
        ("user.activated", str(user.id)),
        ("user.deactivated", str(user.id)),
    ]
    deactivated = events[1].details
    assert (deactivated["before"]["is_active"], deactivated["after"]["is_active"]) == (True, False)


def test_list_is_ordered_case_insensitively_and_filters_by_tenant(rg: Rolegate) -> None:
    for name in ("carol", "Bob", "alice"):
        rg.users.create(name)
    rg.tenants.create("acme")
    rg.memberships.add("acme", "bob")
    assert [u.username for u in rg.users.list()] == ["alice", "Bob", "carol"]
    assert [u.username for u in rg.users.list(tenant="acme")] == ["Bob"]


def test_unknown_users_are_not_found(rg: Rolegate) -> None:
    for ref in ("nobody", uuid4()):
        with pytest.raises(UserNotFound):
            rg.users.get(ref)
        with pytest.raises(UserNotFound):
            rg.users.delete(ref)


def test_delete_removes_memberships_and_assignments_and_is_audited(rg: Rolegate) -> None:
    build_documents_policy(rg, "acme")
    build_documents_policy(rg, "globex")
    rg.users.create("bob")
    rg.assignments.assign("acme", "bob", "viewer")
    alice = rg.users.get("alice")
    tail = AuditTail(rg)

    rg.users.delete("Alice", actor="admin:1")

    with pytest.raises(UserNotFound):
        rg.users.get("alice")
    assert count_rows(rg, "memberships") == 1  # bob's
    assert count_rows(rg, "user_roles") == 1
    assert not rg.check(alice.id, "documents:read", tenant="acme")
    [event] = tail.new_events()
    assert summary(event) == {
        "action": "user.deleted",
        "target_type": "user",
        "target_id": str(alice.id),
        "tenant_id": None,
        "actor": "admin:1",
    }
    assert event.details["memberships"] == ["acme", "globex"]
    assert event.details["before"]["email"] == "alice@example.com"


def test_a_deleted_username_can_be_used_again(rg: Rolegate) -> None:
    first = rg.users.create("alice", email="alice@example.com")
    rg.users.delete("alice")
    assert rg.users.create("ALICE", email="alice@example.com").id != first.id
