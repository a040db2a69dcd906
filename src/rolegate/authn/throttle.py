"""Brute-force protection: the pure rules that turn a record of failed logins into a lockout.

Keycloak's model with permanent lockout off, as Keycloak ships it (failure factor, wait
increment, maximum wait, failure reset time), for an account and for a client address. A hard
limit (NIST SP 800-63B-4 §3.2.2's "no more than 100 consecutive failures"), after which only an
administrator clears the account, is opt-in: on by default it would let anyone who paces 100
guesses lock the only platform admin out for good. A tenant's failures, from every client,
follow a :class:`FailureRate` instead, which slows a password spray spread over many addresses.
The state is stored in the database by the caller, so every server process sees the same counts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures are allowed, and how long the lockouts that follow last."""

    max_failures: int = 30  # failures within the window before the first lockout
    wait_increment: timedelta = timedelta(seconds=60)  # each failure past it adds this much
    max_wait: timedelta = timedelta(minutes=15)  # the longest temporary lockout
    reset_after: timedelta = timedelta(hours=12)  # quiet time that forgets the failures
    hard_limit: int | None = None  # consecutive failures that lock until an admin unlocks


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """The failures recorded against one account in one tenant, or one client address."""

    failures: int = 0  # within the current window
    consecutive: int = 0  # since the last success or unlock; no window forgets them
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None
    hard_locked: bool = False

    def is_locked(self, now: datetime) -> bool:
        """Whether attempts are refused at ``now`` without looking at the password."""
        return self.hard_locked or (self.locked_until is not None and now < self.locked_until)


CLEAR = ThrottleState()


def after_failure(state: ThrottleState, policy: ThrottlePolicy, now: datetime) -> ThrottleState:
    """The state after one more failed attempt at ``now``.

    Past ``max_failures`` in the window, the n-th extra failure locks for ``n`` wait increments,
    at most ``max_wait``: 60 s, 120 s, ... 15 min with the defaults.
    """
    failures = state.failures
    if state.last_failure_at is not None and now - state.last_failure_at >= policy.reset_after:
        failures = 0
    failures += 1
    consecutive = state.consecutive + 1
    locked_until = state.locked_until
    if failures >= policy.max_failures:
        steps = failures - policy.max_failures + 1
        locked_until = now + min(policy.wait_increment * steps, policy.max_wait)
    hard_locked = state.hard_locked or (
        policy.hard_limit is not None and consecutive >= policy.hard_limit
    )
    return ThrottleState(failures, consecutive, now, locked_until, hard_locked)


@dataclass(frozen=True, slots=True)
class FailureRate:
    """At most ``max_failures`` failures per ``window`` (a leaky bucket): past that burst, one
    more failure is let through every ``window / max_failures``, and attempts in between are
    refused for the fraction of a second to a few seconds until then."""

    max_failures: int = 300
    window: timedelta = timedelta(minutes=5)

    @property
    def interval(self) -> timedelta:
        """How often one failure leaks out of a full bucket."""
        return self.window / self.max_failures


def after_rate_failure(state: ThrottleState, rate: FailureRate, now: datetime) -> ThrottleState:
    """The state after one more failure at ``now``, for a counter that follows ``rate``.

    ``failures`` is the bucket's level and ``last_failure_at`` the time its level was last
    drained to, so whole intervals leak exactly however often it is updated. A full bucket
    locks until the next interval has leaked.
    """
    level, drained_at = state.failures, state.last_failure_at or now
    if level and now > drained_at:
        leaked = min(level, int((now - drained_at) / rate.interval))
        level, drained_at = level - leaked, drained_at + rate.interval * leaked
    if level == 0:
        drained_at = now
    level += 1
    locked_until = drained_at + rate.interval if level >= rate.max_failures else None
    return ThrottleState(level, 0, drained_at, locked_until, False)


def fills_bucket(before: ThrottleState, after: ThrottleState, rate: FailureRate) -> bool:
    """Whether the failure that turned ``before`` into ``after`` first filled the bucket."""
    return before.failures < rate.max_failures <= after.failures


def starts_lockout(before: ThrottleState, after: ThrottleState, now: datetime) -> bool:
    """Whether the failure that turned ``before`` into ``after`` locked an unlocked record."""
    return after.is_locked(now) and not before.is_locked(now)


def unlocked(state: ThrottleState) -> ThrottleState:
    """The state after an administrator's unlock: no lock, no failures counted."""
    return replace(state, failures=0, consecutive=0, locked_until=None, hard_locked=False)


def tenant_key(tenant_id: UUID) -> str:
    """The throttle key of every login attempt in one tenant, whoever it names."""
    return f"tenant:{tenant_id}"


def client_key(ip: str) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64 network, because one
    IPv6 host can use every address of its /64 (RFC 4291 interface identifiers)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"
