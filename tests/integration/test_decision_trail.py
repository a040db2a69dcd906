"""The data-access trail: denials always, audited permissions' allows, a sample of the rest;
buffered off the hot path, written in batches, flushed at shutdown, drops counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from rolegate import Rolegate
from rolegate.audit.origin import Origin, acting_from
from rolegate.config import Settings
from tests.factories import (
    FAST_HASHER,
    FakeClock,
    break_audit_store,
    build_documents_policy,
    repair_audit_store,
)


def decisions_of(rg: Rolegate, action: str = "authz.*") -> list[dict[str, object]]:
    """The decision events written so far, oldest first, as JSON objects."""
    assert rg.decisions is not None
    rg.decisions.trail.flush()
    return [e.as_json() for e in rg.audit.export(action=action)]


@pytest.fixture
def quiet(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate whose writer only writes when flushed or closed (a minute between writes,
    batches larger than the buffer), so tests decide when the trail is written."""
    settings = Settings(
        audit_flush_interval=timedelta(minutes=1), audit_batch_size=10_000, audit_buffer_size=50
    )
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        build_documents_policy(rg)
        yield rg


def test_a_denial_is_recorded_with_its_reason_and_revision(policy: Rolegate) -> None:
    revision = policy.revision
    assert not policy.check("alice", "billing:read", tenant="acme")
    [event] = decisions_of(policy)
    details = event["details"]
    assert isinstance(details, dict)
    assert (event["action"], event["outcome"], event["target_type"]) == (
        "authz.denied",
        "denied",
        "user",
    )
    assert event["tenant_id"] == str(policy.tenants.get("acme").id)
    assert event["target_id"] == str(policy.users.get("alice").id)
    assert details == {
        "permission": "billing:read",
        "allowed": False,
        "reason": "no_role_grants_it",
        "chains": [],
        "revision": revision,
    }


def test_a_denial_reads_the_same_after_the_policy_changed(policy: Rolegate) -> None:
    assert not policy.check("alice", "billing:read", tenant="acme")
    assert policy.decisions is not None
    policy.permissions.create("acme", "billing:read")
    policy.roles.grant("acme", "editor", "billing:read")
    assert policy.check("alice", "billing:read", tenant="acme")
    [event] = decisions_of(policy)
    assert event["details"]["reason"] == "no_role_grants_it"  # type: ignore[index]


def test_unknown_users_and_tenants_are_recorded_by_name(policy: Rolegate) -> None:
    assert not policy.check("mallory\r\nforged", "documents:read", tenant="acme")
    assert not policy.check("alice", "documents:read", tenant="nowhere")
    by_reason = {e["details"]["reason"]: e for e in decisions_of(policy)}  # type: ignore[index]
    unknown_user = by_reason["unknown_user"]
    assert unknown_user["target_id"] == "mallory\r\nforged"  # stored as data, not interpreted
    assert by_reason["unknown_tenant"]["details"]["tenant"] == "nowhere"  # type: ignore[index]
    assert by_reason["unknown_tenant"]["tenant_id"] is None  # the global chain
    assert all(r.is_intact for r in policy.audit.verify())


def test_allows_are_recorded_only_for_audited_permissions(policy: Rolegate) -> None:
    assert policy.check("alice", "documents:read", tenant="acme")
    assert decisions_of(policy) == []
    policy.permissions.update("acme", "documents:read", audited=True)
    assert policy.check("alice", "documents:read", tenant="acme")
    assert policy.check("alice", "documents:write", tenant="acme")
    [event] = decisions_of(policy)
    assert (event["action"], event["outcome"]) == ("authz.allowed", "success")
    assert event["details"]["chains"] == ["editor -> viewer -> documents:read"]  # type: ignore[index]


def test_check_many_records_its_denials(policy: Rolegate) -> None:
    answers = policy.check_many("alice", ["documents:read", "x:y", "a:b"], tenant="acme")
    assert answers == [True, False, False]
    recorded = [e["details"]["permission"] for e in decisions_of(policy)]  # type: ignore[index]
    assert sorted(recorded) == ["a:b", "x:y"]


def test_a_sample_rate_of_one_records_every_allow(database_url: str, clock: FakeClock) -> None:
    settings = Settings(audit_sample_rate=1.0)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        build_documents_policy(rg)
        for _ in range(5):
            assert rg.check("alice", "documents:read", tenant="acme")
        assert len(decisions_of(rg, "authz.allowed")) == 5


def test_logging_off_records_no_decision(database_url: str, clock: FakeClock) -> None:
    settings = Settings(audit_decisions=False)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        build_documents_policy(rg)
        assert rg.decisions is None
        assert not rg.check("alice", "billing:read", tenant="acme")
        assert list(rg.audit.export(action="authz.*")) == []


def test_a_decision_carries_the_origin_of_the_request(policy: Rolegate) -> None:
    origin = Origin(ip="203.0.113.9", user_agent="curl/8", request_id="req-1", actor="app")
    with acting_from(origin):
        assert not policy.check("alice", "billing:read", tenant="acme")
    [event] = decisions_of(policy)
    assert (event["actor"], event["actor_ip"], event["user_agent"], event["request_id"]) == (
        "app",
        "203.0.113.9",
        "curl/8",
        "req-1",
    )


def test_buffered_decisions_are_written_at_a_clean_shutdown(
    quiet: Rolegate, database_url: str
) -> None:
    for i in range(30):
        assert not quiet.check("alice", f"thing:act{i}", tenant="acme")
    assert quiet.decisions is not None
    assert quiet.decisions.trail.stats().buffered == 30
    quiet.close()
    stats = quiet.decisions.trail.stats()
    assert (stats.written, stats.dropped, stats.buffered) == (30, 0, 0)
    with Rolegate(database_url, hasher=FAST_HASHER) as reader:
        assert len(list(reader.audit.export(action="authz.denied"))) == 30
        assert all(r.is_intact for r in reader.audit.verify())


def test_drops_are_counted_when_the_buffer_is_full(quiet: Rolegate) -> None:
    for i in range(80):
        assert not quiet.check("alice", f"thing:act{i}", tenant="acme")  # never blocks
    assert quiet.decisions is not None
    stats = quiet.decisions.trail.stats()
    assert (stats.buffered, stats.dropped) == (50, 30)
    quiet.decisions.trail.flush()
    assert quiet.decisions.trail.stats().written == 50
    assert len(decisions_of(quiet)) == 50


def test_records_wait_while_the_database_refuses_them(quiet: Rolegate) -> None:
    assert quiet.decisions is not None
    break_audit_store(quiet)
    try:
        assert not quiet.check("alice", "billing:read", tenant="acme")
        quiet.decisions.trail.flush()  # fails: the record goes back into the buffer
        assert quiet.decisions.trail.stats().buffered == 1
    finally:
        repair_audit_store(quiet)
    assert len(decisions_of(quiet)) == 1
