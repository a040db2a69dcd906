"""Brute-force protection: the pure rules that turn failed logins into lockouts, and the keys
that client addresses are counted under."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rolegate.authn.throttle import (
    CLEAR,
    FailureRate,
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    after_rate_failure,
    client_key,
    fills_bucket,
    starts_lockout,
    tenant_key,
    unlocked,
)

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
#: Small numbers, so every rule shows within a few failures.
POLICY = ThrottlePolicy(
    max_failures=3,
    wait_increment=timedelta(seconds=60),
    max_wait=timedelta(minutes=5),
    reset_after=timedelta(hours=1),
    hard_limit=10,
)


def fail(
    times: int, *, policy: ThrottlePolicy = POLICY, state: ThrottleState = CLEAR, at: datetime
) -> ThrottleState:
    """``state`` after ``times`` failures, all at ``at``."""
    for _ in range(times):
        state = after_failure(state, policy, at)
    return state


def lock_length(state: ThrottleState, now: datetime) -> timedelta | None:
    """How long from ``now`` the temporary lock lasts, if there is one."""
    return None if state.locked_until is None else state.locked_until - now


# --- temporary lockouts ----------------------------------------------------------------------


def test_failures_below_the_limit_lock_nothing() -> None:
    state = fail(POLICY.max_failures - 1, at=START)
    assert state.failures == state.consecutive == POLICY.max_failures - 1
    assert state.last_failure_at == START
    assert state.locked_until is None and not state.hard_locked
    assert not state.is_locked(START)


def test_the_failure_at_the_limit_locks_for_one_wait_increment() -> None:
    state = fail(POLICY.max_failures, at=START)
    assert state.locked_until == START + POLICY.wait_increment
    assert state.is_locked(START)


def test_each_further_failure_adds_one_increment_up_to_max_wait() -> None:
    state = fail(POLICY.max_failures, at=START)
    lengths = []
    for _ in range(7):
        state = after_failure(state, POLICY, START)
        lengths.append(lock_length(state, START))
    minute = timedelta(minutes=1)
    assert lengths == [
        2 * minute,
        3 * minute,
        4 * minute,
        5 * minute,
        5 * minute,
        5 * minute,
        5 * minute,
    ]


def test_a_lock_is_measured_from_the_failure_that_set_it() -> None:
    state = fail(POLICY.max_failures, at=START)
    later = START + timedelta(minutes=2)  # the first lock has ended
    state = after_failure(state, POLICY, later)
    assert state.locked_until == later + 2 * POLICY.wait_increment


def test_is_locked_until_the_instant_the_lock_ends() -> None:
    state = fail(POLICY.max_failures, at=START)
    assert state.locked_until is not None
    assert state.is_locked(state.locked_until - MICROSECOND)
    assert not state.is_locked(state.locked_until)
    assert not state.is_locked(state.locked_until + MICROSECOND)


def test_a_clear_record_is_not_locked_at_any_time() -> None:
    assert not CLEAR.is_locked(START)
    assert not CLEAR.is_locked(datetime.min.replace(tzinfo=UTC))


# --- the window that forgets failures ----------------------------------------------------------


def test_failures_are_forgotten_after_reset_after_from_the_last_failure() -> None:
    state = fail(POLICY.max_failures - 1, at=START)
    state = after_failure(state, POLICY, START + POLICY.reset_after)
    assert state.failures == 1  # the earlier ones fell out of the window
    assert state.consecutive == POLICY.max_failures  # ...but still count towards the hard limit
    assert state.locked_until is None


def test_failures_just_inside_the_window_still_count() -> None:
    state = fail(POLICY.max_failures - 1, at=START)
    state = after_failure(state, POLICY, START + POLICY.reset_after - MICROSECOND)
    assert state.failures == POLICY.max_failures
    assert state.is_locked(START + POLICY.reset_after - MICROSECOND)


def test_the_window_runs_from_the_last_failure_not_the_first() -> None:
    step = POLICY.reset_after / 2
    state = CLEAR
    for i in range(POLICY.max_failures):  # each failure within reset_after of the one before
        state = after_failure(state, POLICY, START + i * step)
    assert state.failures == POLICY.max_failures
    assert state.is_locked(START + (POLICY.max_failures - 1) * step)


# --- the hard lock -----------------------------------------------------------------------------


def test_hard_limit_consecutive_failures_lock_until_unlocked() -> None:
    assert POLICY.hard_limit is not None
    spread = POLICY.reset_after  # far enough apart that no window ever holds two of them
    state = CLEAR
    for i in range(POLICY.hard_limit - 1):
        state = after_failure(state, POLICY, START + i * spread)
        assert not state.hard_locked and state.failures == 1
    last = START + (POLICY.hard_limit - 1) * spread
    state = after_failure(state, POLICY, last)
    assert state.hard_locked and state.consecutive == POLICY.hard_limit
    for later in (last, last + POLICY.max_wait, last + POLICY.reset_after, last + timedelta(3650)):
        assert state.is_locked(later)
    assert after_failure(state, POLICY, last + timedelta(days=1)).hard_locked  # it stays
    assert unlocked(state) == ThrottleState(last_failure_at=last)
    assert not unlocked(state).is_locked(last)


def test_no_hard_limit_means_no_hard_lock() -> None:
    policy = ThrottlePolicy(max_failures=1000, hard_limit=None)
    state = fail(500, policy=policy, at=START)
    assert not state.hard_locked and not state.is_locked(START)


def test_unlocked_clears_failures_and_locks_and_keeps_the_last_failure_time() -> None:
    state = fail(POLICY.max_failures + 2, at=START)
    assert unlocked(state) == ThrottleState(last_failure_at=START)
    assert unlocked(CLEAR) == CLEAR


# --- starts_lockout ----------------------------------------------------------------------------


def test_starts_lockout_only_for_the_failure_that_locks_an_unlocked_record() -> None:
    before = fail(POLICY.max_failures - 1, at=START)
    locking = after_failure(before, POLICY, START)
    assert starts_lockout(before, locking, START)
    assert not starts_lockout(locking, after_failure(locking, POLICY, START), START)  # extends it
    assert not starts_lockout(CLEAR, after_failure(CLEAR, POLICY, START), START)  # no lock at all


def test_a_failure_after_a_lock_ended_starts_a_new_lockout() -> None:
    before = fail(POLICY.max_failures, at=START)
    later = START + timedelta(minutes=2)
    assert not before.is_locked(later)
    assert starts_lockout(before, after_failure(before, POLICY, later), later)


def test_reaching_the_hard_limit_starts_a_lockout() -> None:
    policy = ThrottlePolicy(max_failures=50, hard_limit=5)
    before = fail(4, policy=policy, at=START)
    after = after_failure(before, policy, START)
    assert after.locked_until is None and after.hard_locked
    assert starts_lockout(before, after, START)


# --- properties --------------------------------------------------------------------------------

policies = st.builds(
    ThrottlePolicy,
    max_failures=st.integers(1, 20),
    wait_increment=st.timedeltas(timedelta(seconds=1), timedelta(minutes=10)),
    max_wait=st.timedeltas(timedelta(seconds=1), timedelta(hours=1)),
    reset_after=st.timedeltas(timedelta(seconds=1), timedelta(days=1)),
    hard_limit=st.none() | st.integers(1, 100),
)
gaps = st.lists(st.timedeltas(timedelta(0), timedelta(hours=30)), max_size=120)


@given(policy=policies, gaps=gaps)
def test_a_temporary_lock_never_outlasts_max_wait(
    policy: ThrottlePolicy, gaps: list[timedelta]
) -> None:
    state, now = CLEAR, START
    for gap in gaps:
        now += gap
        state = after_failure(state, policy, now)
        length = lock_length(state, now)
        assert length is None or length <= policy.max_wait
        if not state.hard_locked:
            assert not state.is_locked(now + policy.max_wait)


@given(policy=policies, gaps=gaps)
def test_consecutive_counts_every_failure_and_failures_never_exceed_it(
    policy: ThrottlePolicy, gaps: list[timedelta]
) -> None:
    state, now = CLEAR, START
    for gap in gaps:
        now += gap
        after = after_failure(state, policy, now)
        assert after.consecutive == state.consecutive + 1
        assert 1 <= after.failures <= after.consecutive
        assert after.last_failure_at == now
        assert after.hard_locked >= state.hard_locked  # only an unlock ends a hard lock
        state = after


@given(policy=policies, failures=st.integers(0, 150))
def test_without_a_hard_lock_the_lock_ends_by_max_wait(
    policy: ThrottlePolicy, failures: int
) -> None:
    state = fail(failures, policy=policy, at=START)
    assert state.is_locked(START + policy.max_wait) == state.hard_locked
    assert state.hard_locked == (policy.hard_limit is not None and failures >= policy.hard_limit)


# --- client_key --------------------------------------------------------------------------------


def test_an_ipv4_address_is_its_own_key() -> None:
    assert client_key("203.0.113.7") == "ip:203.0.113.7"
    assert client_key("203.0.113.8") != client_key("203.0.113.7")


def test_ipv6_addresses_are_grouped_by_their_slash_64() -> None:
    first, last = "2001:db8:1:2::1", "2001:DB8:1:2:ffff:ffff:ffff:ffff"
    assert client_key(first) == client_key(last) == "ip:2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") == "ip:2001:db8:1:3::/64"  # the next /64 is another


@pytest.mark.parametrize("mapped", ["::ffff:203.0.113.7", "::ffff:cb00:7107"])
def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address(mapped: str) -> None:
    assert client_key(mapped) == client_key("203.0.113.7")


@pytest.mark.parametrize(
    "address",
    [
        "",
        "localhost",
        "203.0.113",
        "203.0.113.256",
        "203.0.113.7 ",
        "2001:db8::/64",
        "2001:db8:::1",
    ],
)
def test_a_bad_address_raises_value_error(address: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        client_key(address)


# --- permanent lockout is opt-in -------------------------------------------------------------


def test_by_default_no_number_of_paced_failures_locks_for_good() -> None:
    policy = ThrottlePolicy()  # Keycloak's defaults: permanent lockout off
    assert policy.hard_limit is None
    state, at = CLEAR, START
    for _ in range(500):
        state = after_failure(state, policy, at)
        at += timedelta(hours=13)  # paced: every window forgotten before the next guess
    assert state.consecutive == 500 and not state.hard_locked
    assert not state.is_locked(at)


# --- a tenant's failure rate -----------------------------------------------------------------

RATE = FailureRate(max_failures=5, window=timedelta(minutes=5))  # one per minute past five


def rate_fail(times: int, *, state: ThrottleState = CLEAR, at: datetime) -> ThrottleState:
    for _ in range(times):
        state = after_rate_failure(state, RATE, at)
    return state


def test_a_tenant_absorbs_its_burst_then_locks_until_one_failure_leaks_out() -> None:
    assert RATE.interval == timedelta(minutes=1)
    state = rate_fail(4, at=START)
    assert state.failures == 4 and not state.is_locked(START)
    state = rate_fail(1, state=state, at=START)
    assert state.failures == 5 and state.locked_until == START + RATE.interval
    assert state.is_locked(START + RATE.interval - MICROSECOND)
    assert not state.is_locked(START + RATE.interval)


def test_past_its_burst_a_tenant_lets_one_failure_through_per_interval() -> None:
    state = rate_fail(5, at=START)
    for minute in range(1, 10):
        at = START + minute * RATE.interval
        assert not state.is_locked(at)
        state = rate_fail(1, state=state, at=at)
        assert state.failures == 5 and state.locked_until == at + RATE.interval


def test_the_bucket_drains_by_whole_intervals_however_often_it_is_updated() -> None:
    state = rate_fail(5, at=START)
    # a failure every 59 s from a full bucket: the level never rises above 5 nor is lost
    at = START
    for _ in range(30):
        at += timedelta(seconds=59)
        if not state.is_locked(at):
            state = rate_fail(1, state=state, at=at)
    assert state.failures == 5
    quiet = rate_fail(1, state=state, at=at + timedelta(hours=1))
    assert quiet.failures == 1 and quiet.locked_until is None  # a quiet window forgets it all


def test_only_the_failure_that_fills_the_bucket_is_news() -> None:
    before = rate_fail(4, at=START)
    full = rate_fail(1, state=before, at=START)
    assert fills_bucket(before, full, RATE)
    later = rate_fail(1, state=full, at=START + RATE.interval)
    assert not fills_bucket(full, later, RATE)


def test_a_tenant_is_counted_under_one_key_whoever_is_named() -> None:
    tenant_id = UUID("12345678-1234-5678-1234-567812345678")
    assert tenant_key(tenant_id) == "tenant:12345678-1234-5678-1234-567812345678"
