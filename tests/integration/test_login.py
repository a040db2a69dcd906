"""Login: one error for every failure with equal work, login history, rehashing, must-change
passwords, password change, and brute-force protection (per account per tenant, per client)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from rolegate import (
    Argon2Hasher,
    InvalidCredentials,
    InvalidInput,
    InvalidPassword,
    InvalidToken,
    LoginThrottled,
    PasswordChangeRequired,
    Rolegate,
    Settings,
)
from rolegate.db.models import LoginThrottleRecord
from tests.factories import (
    PASSWORD,
    CountingHasher,
    FakeClock,
    audit_events,
    bootstrap_admin,
    member_with_password,
    stored_password_hash,
)

NEW_PASSWORD = "quartz meadow violin 42 harbour"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def auth(database_url: str, clock: FakeClock, hasher: CountingHasher) -> Iterator[Rolegate]:
    """A Rolegate whose lockouts start after 3 failures, so tests reach them quickly."""
    settings = Settings(lockout_failures=3, lockout_ip_failures=5, lockout_hard_limit=20)
    with Rolegate(database_url, hasher=hasher, clock=clock, settings=settings) as instance:
        member_with_password(instance)
        instance.auth.logout(instance.auth.login("alice", PASSWORD, tenant="acme"))
        hasher.reset()  # the first attempt also made the dummy hash
        yield instance


def fail(rg: Rolegate, times: int = 1, *, tenant: str = "acme", ip: str | None = None) -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            rg.auth.login("alice", "not the password at all", tenant=tenant, ip=ip)


def test_login_opens_a_session_and_records_it(auth: Rolegate, clock: FakeClock) -> None:
    pair = auth.auth.login("alice", PASSWORD, tenant="acme", ip="203.0.113.9", user_agent=FIREFOX)

    principal = auth.auth.verify(pair.access_token)
    alice = auth.users.get("alice")
    assert principal.user_id == alice.id and principal.session_id == pair.session.id
    assert pair.session.device == "Firefox 120 on Linux"
    assert pair.session.created_ip == "203.0.113.9" and pair.session.is_active
    assert pair.expires_in == 600 and pair.token_type == "Bearer"
    assert alice.last_login_at == clock.now
    attempt = auth.auth.login_history(user="alice")[0]
    assert (attempt.succeeded, attempt.ip, attempt.user_agent) == (True, "203.0.113.9", FIREFOX)
    assert attempt.tenant == "acme" and attempt.occurred_at == clock.now
    assert "access_token" not in repr(pair) and pair.refresh_token not in repr(pair)


def test_login_by_email_and_any_case_of_the_username(auth: Rolegate) -> None:
    assert auth.auth.login("ALICE@Example.com", PASSWORD, tenant="acme").session.is_active
    assert auth.auth.login("Alice", PASSWORD, tenant="acme").session.is_active


@pytest.mark.parametrize(
    ("setup", "username", "tenant", "reason"),
    [
        (None, "alice", "acme", "bad_password"),
        (None, "mallory", "acme", "unknown_user"),
        (None, "alice", "nowhere", "unknown_tenant"),
        ("deactivate", "alice", "acme", "inactive"),
        ("no_password", "alice", "acme", "no_password"),
        ("not_member", "alice", "acme", "not_member"),
    ],
)
def test_every_failure_is_one_error_for_one_argon2_verification(
    auth: Rolegate,
    hasher: CountingHasher,
    setup: str | None,
    username: str,
    tenant: str,
    reason: str,
) -> None:
    if setup == "deactivate":
        auth.users.deactivate("alice")
    elif setup == "no_password":
        auth.users.clear_password("alice")
    elif setup == "not_member":
        auth.memberships.remove("acme", "alice")
    hasher.reset()
    password = PASSWORD if setup else "not the password at all"

    with pytest.raises(InvalidCredentials) as failure:
        auth.auth.login(username, password, tenant=tenant)

    assert str(failure.value) == "invalid username or password"
    assert failure.value.reason == reason
    assert (hasher.verifies, hasher.hashes) == (1, 0)  # equal work: no enumeration by timing
    [attempt] = auth.auth.login_history(limit=1)
    assert (attempt.succeeded, attempt.reason, attempt.username) == (False, reason, username)


def test_a_locked_account_costs_the_same_verification(
    auth: Rolegate, hasher: CountingHasher
) -> None:
    fail(auth, 3)
    hasher.reset()
    with pytest.raises(InvalidCredentials) as failure:
        auth.auth.login("alice", PASSWORD, tenant="acme")
    assert failure.value.reason == "locked"
    assert hasher.verifies == 1


def test_an_oversized_password_is_refused_before_any_hashing(
    auth: Rolegate, hasher: CountingHasher
) -> None:
    for username in ("alice", "mallory"):
        with pytest.raises(InvalidCredentials):
            auth.auth.login(username, "x" * 1_000_000, tenant="acme")
    assert (hasher.verifies, hasher.hashes) == (0, 0)


def test_the_history_never_holds_the_password(auth: Rolegate) -> None:
    fail(auth)
    auth.auth.login("alice", PASSWORD, tenant="acme")
    history = repr(auth.auth.login_history()) + repr(audit_events(auth))
    assert PASSWORD not in history and "not the password at all" not in history


def test_bad_input_is_a_typed_error(auth: Rolegate) -> None:
    with pytest.raises(InvalidInput, match="not an IP address"):
        auth.auth.login("alice", PASSWORD, tenant="acme", ip="300.1.1.1")
    with pytest.raises(InvalidInput, match="must be text"):
        auth.auth.login("alice", b"bytes", tenant="acme")  # type: ignore[arg-type]


def test_a_name_with_nul_or_over_254_characters_is_just_unknown(
    auth: Rolegate, hasher: CountingHasher
) -> None:
    for name in ("ali\x00ce", "a" * 300):
        with pytest.raises(InvalidCredentials):
            auth.auth.login(name, PASSWORD, tenant="acme")
    assert hasher.verifies == 2


def test_a_hash_made_with_other_parameters_is_upgraded_at_login(
    database_url: str, clock: FakeClock
) -> None:
    weak = Argon2Hasher(memory_kib=8, time_cost=1, parallelism=1)
    stronger = CountingHasher(Argon2Hasher(memory_kib=16, time_cost=2, parallelism=1))
    with Rolegate(database_url, hasher=weak, clock=clock) as old:
        member_with_password(old)
    with Rolegate(database_url, hasher=stronger, clock=clock) as rg:
        rg.auth.login("alice", PASSWORD, tenant="acme")
        assert stronger.hashes == 2  # the dummy hash of a first attempt, and the upgrade
        upgraded = stored_password_hash(rg, "alice")
        assert upgraded is not None and "m=16,t=2" in upgraded
        rg.auth.login("alice", PASSWORD, tenant="acme")
        assert stronger.hashes == 2  # once upgraded, never again


def test_an_admin_set_password_must_be_changed_at_next_login(auth: Rolegate) -> None:
    auth.users.set_password("alice", "temporary ladder 7 pencil", must_change=True)
    assert auth.users.get("alice").must_change_password

    with pytest.raises(PasswordChangeRequired):
        auth.auth.login("alice", "temporary ladder 7 pencil", tenant="acme")
    with pytest.raises(InvalidPassword, match="current one"):
        auth.auth.login(
            "alice",
            "temporary ladder 7 pencil",
            tenant="acme",
            new_password="temporary ladder 7 pencil",
        )
    with pytest.raises(InvalidPassword, match="username") as weak:
        auth.auth.login(
            "alice", "temporary ladder 7 pencil", tenant="acme", new_password="alice-is-me-2026!"
        )
    assert weak.value.rule == "contains_username"
    pair = auth.auth.login(
        "alice", "temporary ladder 7 pencil", tenant="acme", new_password=NEW_PASSWORD
    )

    assert pair.session.is_active and not auth.users.get("alice").must_change_password
    assert auth.auth.login("alice", NEW_PASSWORD, tenant="acme").session.is_active
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", "temporary ladder 7 pencil", tenant="acme")


def test_a_wrong_guess_does_not_learn_that_a_change_is_required(auth: Rolegate) -> None:
    auth.users.set_password("alice", "temporary ladder 7 pencil", must_change=True)
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", "wrong guess entirely", tenant="acme", new_password=NEW_PASSWORD)


def test_changing_a_password_needs_the_current_one_and_ends_other_sessions(
    auth: Rolegate,
) -> None:
    kept = auth.auth.login("alice", PASSWORD, tenant="acme")
    other = auth.auth.login("alice", PASSWORD, tenant="acme")

    with pytest.raises(InvalidCredentials):
        auth.auth.change_password("alice", "wrong current pw", NEW_PASSWORD, tenant="acme")
    assert auth.auth.lockout("alice", tenant="acme").failures == 1
    auth.auth.change_password(
        "alice", PASSWORD, NEW_PASSWORD, tenant="acme", keep_session=kept.session.id
    )

    assert [s.id for s in auth.auth.sessions("alice")] == [kept.session.id]
    assert auth.auth.verify(kept.access_token).session_id == kept.session.id
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", PASSWORD, tenant="acme")
    assert auth.auth.login("alice", NEW_PASSWORD, tenant="acme")
    assert audit_events(auth, action="user.password_changed")
    assert other.session.id not in [s.id for s in auth.auth.sessions("alice")]


def test_an_admin_reset_ends_every_session(auth: Rolegate) -> None:
    auth.auth.login("alice", PASSWORD, tenant="acme")
    auth.users.set_password("alice", NEW_PASSWORD)
    assert auth.auth.sessions("alice") == []


# --- brute-force protection ------------------------------------------------------------------


def test_lockout_grows_by_the_wait_increment_up_to_the_maximum(
    auth: Rolegate, clock: FakeClock
) -> None:
    fail(auth, 2)
    assert not auth.auth.lockout("alice", tenant="acme").is_locked
    fail(auth)  # the third failure locks for one increment (60 s)
    lock = auth.auth.lockout("alice", tenant="acme")
    assert lock.is_locked and lock.locked_until == clock.now + timedelta(seconds=60)
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", PASSWORD, tenant="acme")  # even the right password

    clock.advance(timedelta(seconds=60))
    fail(auth)  # past the threshold: two increments
    assert auth.auth.lockout("alice", tenant="acme").locked_until == clock.now + timedelta(
        seconds=120
    )
    for _ in range(14):
        clock.advance(timedelta(minutes=15))
        fail(auth)
    lock = auth.auth.lockout("alice", tenant="acme")
    assert lock.locked_until == clock.now + timedelta(minutes=15)  # capped at the maximum

    clock.advance(timedelta(minutes=15))
    assert auth.auth.login("alice", PASSWORD, tenant="acme")
    assert auth.auth.lockout("alice", tenant="acme").failures == 0  # a success clears it


def test_failures_are_forgotten_after_twelve_quiet_hours(auth: Rolegate, clock: FakeClock) -> None:
    fail(auth, 2)
    clock.advance(timedelta(hours=12))
    fail(auth, 2)
    assert not auth.auth.lockout("alice", tenant="acme").is_locked


def test_consecutive_failures_lock_until_an_admin_unlocks(auth: Rolegate, clock: FakeClock) -> None:
    for _ in range(20):  # the hard limit is 20 here (off by default)
        fail(auth)
        clock.advance(timedelta(hours=13))  # every window forgotten, the run of failures not
    assert auth.auth.lockout("alice", tenant="acme").hard_locked
    clock.advance(timedelta(days=30))
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", PASSWORD, tenant="acme")

    auth.auth.unlock("alice", tenant="acme", actor="admin")

    assert auth.auth.login("alice", PASSWORD, tenant="acme")
    assert [e.action for e in audit_events(auth) if e.action.startswith("auth.")].count(
        "auth.unlocked"
    ) == 1


def test_lockouts_and_unlocks_are_audited(auth: Rolegate) -> None:
    fail(auth, 4)
    auth.auth.unlock("alice", tenant="acme", actor="admin")
    [locked] = audit_events(auth, action="auth.account_locked")
    [unlocked] = audit_events(auth, action="auth.unlocked")
    assert locked.details["failures"] == 3 and unlocked.actor == "admin"
    assert unlocked.details["was_locked"] is True
    assert len(audit_events(auth, action="auth.login_failed")) == 4


def test_a_lockout_in_one_tenant_leaves_the_others_alone(auth: Rolegate) -> None:
    auth.tenants.create("beta")
    auth.memberships.add("beta", "alice")
    fail(auth, 3, tenant="acme")
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", PASSWORD, tenant="acme")
    assert auth.auth.login("alice", PASSWORD, tenant="beta").session.tenant == "beta"


def test_a_client_address_is_throttled_across_accounts(auth: Rolegate) -> None:
    member_with_password(auth, "bob")
    for username in ("mallory", "eve", "trent", "bob", "alice"):
        with pytest.raises(InvalidCredentials):
            auth.auth.login(username, "guess guess guess", tenant="acme", ip="198.51.100.7")
    with pytest.raises(LoginThrottled) as throttled:  # 429 over HTTP, not a 401
        auth.auth.login("bob", PASSWORD, tenant="acme", ip="198.51.100.7")
    assert throttled.value.reason == "client_locked" and throttled.value.retry_after == 60
    assert auth.auth.login("bob", PASSWORD, tenant="acme", ip="198.51.100.8")
    assert auth.auth.lockout(ip="198.51.100.7").is_locked
    auth.auth.unlock(ip="198.51.100.7")
    assert auth.auth.login("bob", PASSWORD, tenant="acme", ip="198.51.100.7")


def test_an_ipv6_client_is_throttled_by_its_network(auth: Rolegate) -> None:
    for host in range(5):
        with pytest.raises(InvalidCredentials):
            auth.auth.login("mallory", "guess guess guess", tenant="acme", ip=f"2001:db8::{host}")
    with pytest.raises(LoginThrottled):
        auth.auth.login("alice", PASSWORD, tenant="acme", ip="2001:db8::ffff")
    assert auth.auth.login("alice", PASSWORD, tenant="acme", ip="2001:db8:0:1::1")


def test_no_failure_is_lost_under_concurrent_attempts(auth: Rolegate) -> None:
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            auth.auth.login("alice", "not the password at all", tenant="acme", ip="192.0.2.1")
        except (InvalidCredentials, LoginThrottled):
            pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with auth.db.reading() as session:
        counts = dict(
            session.execute(select(LoginThrottleRecord.key, LoginThrottleRecord.consecutive)).all()
        )
    # Attempts refused while the client is locked are not counted for it; every other one is
    # (those the account's lockout refused too), none lost.
    history = [a for a in auth.auth.login_history(limit=100) if a.ip == "192.0.2.1"]
    counted = sum(1 for a in history if a.reason in ("bad_password", "locked"))
    assert counts["ip:192.0.2.1"] == counted
    assert len(history) == 20


def test_unlock_names_a_user_or_an_address(auth: Rolegate) -> None:
    with pytest.raises(InvalidInput):
        auth.auth.unlock()
    with pytest.raises(InvalidInput):
        auth.auth.unlock("alice", ip="192.0.2.1")
    with pytest.raises(InvalidInput):
        auth.auth.lockout(ip="not-an-ip")


def test_a_login_can_change_the_password_in_the_same_step(auth: Rolegate) -> None:
    before = auth.auth.login("alice", PASSWORD, tenant="acme")
    after = auth.auth.login("alice", PASSWORD, tenant="acme", new_password=NEW_PASSWORD)
    assert [s.id for s in auth.auth.sessions("alice")] == [after.session.id]
    with pytest.raises(InvalidToken):
        auth.auth.verify(before.access_token)
    with pytest.raises(InvalidCredentials):
        auth.auth.login("alice", PASSWORD, tenant="acme")
    assert auth.auth.login("alice", NEW_PASSWORD, tenant="acme")


# --- permanent lockout off by default; throttles by client and by tenant answer 429 -----------


def test_paced_failures_never_lock_the_only_platform_admin_out_for_good(
    database_url: str, clock: FakeClock
) -> None:
    with Rolegate(database_url, hasher=CountingHasher(), clock=clock) as rg:  # default settings
        bootstrap_admin(rg)
        for _ in range(101):  # past NIST's 100, each after the window forgot the last
            with pytest.raises(InvalidCredentials):
                rg.auth.login("root", "not the password at all", tenant="platform")
            clock.advance(timedelta(hours=13))
        lock = rg.auth.lockout("root", tenant="platform")
        assert lock.consecutive == 101 and not lock.hard_locked and not lock.is_locked
        assert rg.auth.login("root", PASSWORD, tenant="platform").session.is_active


def test_a_temporary_account_lockout_still_applies_by_default(
    database_url: str, clock: FakeClock
) -> None:
    with Rolegate(database_url, hasher=CountingHasher(), clock=clock) as rg:
        member_with_password(rg)
        fail(rg, 30)
        with pytest.raises(InvalidCredentials) as failure:  # a 401 like any other
            rg.auth.login("alice", PASSWORD, tenant="acme")
        assert failure.value.reason == "locked"
        clock.advance(timedelta(seconds=60))
        assert rg.auth.login("alice", PASSWORD, tenant="acme").session.is_active


@pytest.fixture
def sprayed(database_url: str, clock: FakeClock) -> Iterator[Rolegate]:
    """A Rolegate whose tenants take 5 failures per 5 minutes (one a minute past them), with
    per-account and per-client limits out of the way."""
    settings = Settings(
        lockout_failures=1000,
        lockout_ip_failures=1000,
        lockout_tenant_failures=5,
        lockout_tenant_window=timedelta(minutes=5),
    )
    with Rolegate(database_url, hasher=CountingHasher(), clock=clock, settings=settings) as rg:
        member_with_password(rg)
        member_with_password(rg, "bob")
        rg.tenants.create("beta")
        rg.memberships.add("beta", "alice")
        yield rg


def spray(rg: Rolegate, names: list[str], *, start: int = 0) -> None:
    """One wrong password per name, each from another client address."""
    for i, name in enumerate(names, start=start):
        with pytest.raises(InvalidCredentials):
            rg.auth.login(name, "guess guess guess", tenant="acme", ip=f"198.51.100.{i}")


def test_a_spray_over_many_clients_is_slowed_by_the_tenants_failure_rate(
    sprayed: Rolegate, clock: FakeClock
) -> None:
    spray(sprayed, ["alice", "mallory", "bob", "eve", "trent"])
    for name, password in (("alice", "guess guess guess"), ("nobody", "x"), ("bob", PASSWORD)):
        with pytest.raises(LoginThrottled) as throttled:  # from a new address, for anyone
            sprayed.auth.login(name, password, tenant="acme", ip="192.0.2.99")
        assert throttled.value.reason == "tenant_throttled"
        assert throttled.value.retry_after == 60
    assert sprayed.auth.login("alice", PASSWORD, tenant="beta").session.is_active  # per tenant

    clock.advance(timedelta(seconds=60))  # one more failure leaks through, then 60 s again
    spray(sprayed, ["walter"], start=50)
    with pytest.raises(LoginThrottled):
        sprayed.auth.login("bob", PASSWORD, tenant="acme", ip="192.0.2.98")
    clock.advance(timedelta(seconds=60))
    assert sprayed.auth.login("bob", PASSWORD, tenant="acme").session.is_active
    [event] = audit_events(sprayed, action="auth.tenant_throttled")  # once, when it filled
    assert event.details["failures"] == 5


def test_refused_attempts_during_a_tenant_throttle_are_not_counted(
    sprayed: Rolegate, clock: FakeClock
) -> None:
    spray(sprayed, ["mallory"] * 5)
    for _ in range(20):
        with pytest.raises(LoginThrottled):
            sprayed.auth.login("mallory", "guess", tenant="acme", ip="192.0.2.1")
    clock.advance(timedelta(seconds=60))
    assert sprayed.auth.login("alice", PASSWORD, tenant="acme").session.is_active
    reasons = [a.reason for a in sprayed.auth.login_history(limit=30)]
    assert reasons.count("tenant_throttled") == 20


def test_known_and_unknown_names_get_the_same_answers_at_every_step(
    auth: Rolegate, hasher: CountingHasher
) -> None:
    # alice's account locks after 3 failures, each client after 5: the lockout still reads as
    # a wrong password, and only the client throttle says 429, for both names alike.
    def answers(name: str, ip: str) -> list[tuple[str, int | None, int]]:
        seen: list[tuple[str, int | None, int]] = []
        for _ in range(7):
            hasher.reset()
            try:
                auth.auth.login(name, "not the password at all", tenant="acme", ip=ip)
            except LoginThrottled as exc:
                seen.append((exc.code, exc.retry_after, hasher.verifies))
            except InvalidCredentials as exc:
                seen.append((exc.code, None, hasher.verifies))
        return seen

    known, unknown = answers("alice", "192.0.2.10"), answers("mallory", "192.0.2.11")
    assert known == unknown
    assert [code for code, _, _ in known] == ["invalid_credentials"] * 5 + ["login_throttled"] * 2
    assert all(verifies == 1 for _, _, verifies in known)  # equal work, throttled or not
    assert auth.auth.lockout("alice", tenant="acme").is_locked


def test_a_right_password_neither_locks_nor_changes_the_tenants_counter(sprayed: Rolegate) -> None:
    # Every login in a tenant shares that row: a success must not queue behind the others.
    for _ in range(3):
        sprayed.auth.login("alice", PASSWORD, tenant="acme", ip="192.0.2.1")
    with sprayed.db.reading() as session:
        keys = session.scalars(select(LoginThrottleRecord.key)).all()
    assert not [key for key in keys if key.startswith("tenant:")]
    spray(sprayed, ["mallory"])
    sprayed.auth.login("alice", PASSWORD, tenant="acme", ip="192.0.2.1")
    with sprayed.db.reading() as session:
        [failures] = session.scalars(
            select(LoginThrottleRecord.failures).where(
                LoginThrottleRecord.key.startswith("tenant:")
            )
        ).all()
    assert failures == 1  # the failure only
