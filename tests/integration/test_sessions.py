"""Sessions and refresh tokens: rotation, reuse detection, timeouts, revocation everywhere."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from rolegate import (
    InvalidToken,
    RefreshTokenReused,
    Rolegate,
    SessionNotFound,
    Settings,
    TokenPair,
)
from rolegate.db.models import RefreshTokenRecord
from tests.factories import (
    FAST_HASHER,
    PASSWORD,
    FakeClock,
    audit_events,
    member_with_password,
    wait_until,
)

CHROME_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def alice(rg: Rolegate) -> Rolegate:
    member_with_password(rg)
    return rg


def login(rg: Rolegate, **client: str) -> TokenPair:
    return rg.auth.login("alice", PASSWORD, tenant="acme", **client)


def test_refresh_rotates_the_token_and_tracks_the_last_use(
    alice: Rolegate, clock: FakeClock
) -> None:
    first = login(alice, ip="192.0.2.1", user_agent="curl/8.4.0")
    clock.advance(timedelta(minutes=5))

    second = alice.auth.refresh(first.refresh_token, ip="192.0.2.2", user_agent=CHROME_ON_IPHONE)

    assert second.refresh_token != first.refresh_token
    assert second.session.id == first.session.id
    assert (second.session.last_ip, second.session.last_used_at) == ("192.0.2.2", clock.now)
    assert second.session.created_ip == "192.0.2.1" and second.session.device == "curl 8"
    assert alice.auth.verify(second.access_token).session_id == first.session.id
    with alice.db.reading() as session:
        stored = session.scalars(select(RefreshTokenRecord.token_hash)).all()
    assert first.refresh_token not in stored and second.refresh_token not in stored
    assert all(len(digest) == 64 for digest in stored)


def test_a_rotated_token_presented_again_revokes_the_whole_session(alice: Rolegate) -> None:
    first = login(alice)
    second = alice.auth.refresh(first.refresh_token)

    with pytest.raises(RefreshTokenReused):
        alice.auth.refresh(first.refresh_token)

    with pytest.raises(InvalidToken):
        alice.auth.refresh(second.refresh_token)  # the successor died with the session
    with pytest.raises(InvalidToken):
        alice.auth.verify(second.access_token)
    [ended] = alice.auth.sessions("alice", include_ended=True)
    assert ended.revoked_reason == "refresh_token_reused" and not ended.is_active
    [event] = audit_events(alice, action="auth.refresh_token_reused")
    assert event.target_id == str(first.session.id)


def test_twenty_concurrent_refreshes_leave_at_most_one_live_successor(alice: Rolegate) -> None:
    pair = login(alice)
    results: list[TokenPair | BaseException] = []
    start = threading.Barrier(20)

    def refresh() -> None:
        start.wait()
        try:
            results.append(alice.auth.refresh(pair.refresh_token))
        except InvalidToken as exc:
            results.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    successors = [r for r in results if isinstance(r, TokenPair)]
    assert len(results) == 20 and len(successors) <= 1
    live = 0
    for successor in successors:
        try:
            alice.auth.refresh(successor.refresh_token)
            live += 1
        except InvalidToken:
            pass
    assert live <= 1
    # Any loser presented a rotated token: the session is revoked as a reuse.
    assert not alice.auth.sessions("alice")


def test_the_idle_timeout_ends_a_session_that_is_not_refreshed(
    alice: Rolegate, clock: FakeClock
) -> None:
    pair = login(alice)
    clock.advance(timedelta(minutes=29, seconds=59))
    pair = alice.auth.refresh(pair.refresh_token)  # just in time: the idle clock restarts
    clock.advance(timedelta(minutes=30))

    with pytest.raises(InvalidToken) as ended:
        alice.auth.refresh(pair.refresh_token)
    assert ended.value.reason == "session_expired"
    assert alice.auth.sessions("alice") == []


def test_the_absolute_lifetime_ends_even_a_busy_session(alice: Rolegate, clock: FakeClock) -> None:
    pair = login(alice)
    for _ in range(12 * 3 - 1):  # every 20 minutes for 11 h 40 min
        clock.advance(timedelta(minutes=20))
        pair = alice.auth.refresh(pair.refresh_token)
    clock.advance(timedelta(minutes=15))  # 23:55, five minutes before the session's end
    pair = alice.auth.refresh(pair.refresh_token)
    assert pair.access_expires_at == pair.session.expires_at  # capped at the session's end
    assert pair.expires_in == 5 * 60
    clock.advance(timedelta(minutes=5))

    with pytest.raises(InvalidToken):
        alice.auth.refresh(pair.refresh_token)


def test_access_tokens_expire_after_ten_minutes(alice: Rolegate, clock: FakeClock) -> None:
    pair = login(alice)
    clock.advance(timedelta(minutes=10, seconds=9))  # within the 10 s leeway
    alice.auth.verify(pair.access_token)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        alice.auth.verify(pair.access_token)


def test_sessions_list_revoke_and_logout(alice: Rolegate) -> None:
    phone = login(alice, user_agent=CHROME_ON_IPHONE)
    laptop = login(alice, user_agent="curl/8.4.0")
    desk = login(alice)

    listed = alice.auth.sessions("alice")
    assert [s.id for s in listed] == [s.session.id for s in (desk, laptop, phone)][::-1] or {
        s.id for s in listed
    } == {phone.session.id, laptop.session.id, desk.session.id}
    assert {s.device for s in listed} >= {"Mobile Safari 17 on iOS 17 (iPhone)", "curl 8"}

    revoked = alice.auth.revoke_session(phone.session.id, actor="admin")
    assert revoked.revoked_reason == "revoked" and not revoked.is_active
    alice.auth.logout(alice.auth.verify(laptop.access_token))

    assert [s.id for s in alice.auth.sessions("alice")] == [desk.session.id]
    for ended in (phone, laptop):
        with pytest.raises(InvalidToken):
            alice.auth.verify(ended.access_token)
        with pytest.raises(InvalidToken):
            alice.auth.refresh(ended.refresh_token)
    assert len(alice.auth.sessions("alice", include_ended=True)) == 3
    assert alice.auth.logout(phone.session.id) >= 0  # already ended: nothing changes


def test_revoke_all_but_this_device(alice: Rolegate) -> None:
    keep = login(alice)
    for _ in range(3):
        login(alice)
    assert alice.auth.revoke_all("alice", except_session=keep.session) == 3
    assert [s.id for s in alice.auth.sessions("alice")] == [keep.session.id]
    assert alice.auth.revoke_all("alice", tenant="acme") == 1
    assert alice.auth.sessions("alice") == []


def test_unknown_sessions_and_bad_reasons_are_typed_errors(alice: Rolegate) -> None:
    with pytest.raises(SessionNotFound):
        alice.auth.revoke_session("not-a-uuid")
    with pytest.raises(SessionNotFound):
        alice.auth.logout("00000000-0000-0000-0000-000000000009")
    pair = login(alice)
    with pytest.raises(ValueError, match="reason"):
        alice.auth.revoke_session(pair.session.id, reason="x" * 41)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda rg: rg.users.deactivate("alice"), "user_deactivated"),
        (lambda rg: rg.memberships.remove("acme", "alice"), None),
        (lambda rg: rg.users.delete("alice"), None),
        (lambda rg: rg.tenants.delete("acme"), None),
    ],
)
def test_losing_the_account_or_the_membership_ends_its_sessions(
    alice: Rolegate, change: Callable[[Rolegate], object], reason: str | None
) -> None:
    pair = login(alice)
    alice.auth.verify(pair.access_token)  # cached as alive

    change(alice)

    with pytest.raises(InvalidToken):
        alice.auth.verify(pair.access_token)
    with pytest.raises(InvalidToken):
        alice.auth.refresh(pair.refresh_token)
    if reason is not None:
        [ended] = alice.auth.sessions("alice", include_ended=True)
        assert ended.revoked_reason == reason


@pytest.fixture
def other_node(alice: Rolegate, database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """Another server process on the same database, following changes as a server does."""
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=Settings()) as node:
        yield node


def test_a_revocation_reaches_every_node_promptly(alice: Rolegate, other_node: Rolegate) -> None:
    pair = login(alice)
    assert other_node.auth.verify(pair.access_token).session_id == pair.session.id

    alice.auth.revoke_session(pair.session.id)

    def refused() -> bool:
        try:
            other_node.auth.verify(pair.access_token)
        except InvalidToken:
            return True
        return False

    assert wait_until(refused, timeout=5) is not None


def test_a_key_rotated_on_one_node_signs_there_and_verifies_everywhere(
    alice: Rolegate, other_node: Rolegate, clock: FakeClock
) -> None:
    before = login(alice)
    new_key = alice.keys.rotate(actor="admin")
    after = login(alice)

    assert jwt.get_unverified_header(after.access_token)["kid"] == new_key.kid
    assert other_node.auth.verify(after.access_token)  # unknown kid: the node reloads
    assert alice.auth.verify(before.access_token)
    kids = [key["kid"] for key in alice.auth.jwks()["keys"]]
    assert new_key.kid in kids and len(kids) == 2
    assert audit_events(alice, action="key.rotated")

    clock.advance(timedelta(minutes=10, seconds=11))  # the old key's tokens have all expired
    assert [key["kid"] for key in alice.auth.jwks()["keys"]] == [new_key.kid]


def test_optional_claims_carry_roles_and_permissions(database_url: str, clock: FakeClock) -> None:
    settings = Settings(token_permission_claims=True, token_claims_limit=3)
    with Rolegate(database_url, hasher=FAST_HASHER, clock=clock, settings=settings) as rg:
        member_with_password(rg)
        rg.permissions.create("acme", "documents:read")
        rg.roles.create("acme", "viewer", permissions=["documents:read"])
        rg.assignments.assign("acme", "alice", "viewer")
        claims = jwt.decode(login(rg).access_token, options={"verify_signature": False})
        assert (claims["roles"], claims["permissions"]) == (["viewer"], ["documents:read"])

        rg.roles.grant("acme", "viewer", "reports:*")
        rg.permissions.create("acme", "files:read")
        rg.roles.grant("acme", "viewer", "files:read")
        claims = jwt.decode(login(rg).access_token, options={"verify_signature": False})
        assert claims["perms_truncated"] is True and "permissions" not in claims


def test_a_session_is_found_for_its_owner_only(alice: Rolegate) -> None:
    member_with_password(alice, "bob")
    bobs = alice.auth.login("bob", PASSWORD, tenant="acme")
    with pytest.raises(SessionNotFound):
        alice.auth.revoke_session(bobs.session.id, owner=alice.users.get("alice").id)
    assert alice.auth.verify(bobs.access_token)
    ended = alice.auth.revoke_session(bobs.session.id, owner=alice.users.get("bob").id)
    assert not ended.is_active
