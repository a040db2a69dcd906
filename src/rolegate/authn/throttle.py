"""Brute-force protection: the pure rules that turn a record of failed logins into a lockout.

Keycloak's permanent-lockout-off model (failure factor, wait increment, maximum wait, failure
reset time), plus NIST SP 800-63B-4 §3.2.2's cap: never more than ``hard_limit`` consecutive
failures on one account, after which only an administrator (or a success before it) clears it.
The state is stored in the database by the caller, so every server process sees the same counts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures are allowed, and how long the lockouts that follow last."""

    max_failures: int = 30  # failures within the window before the first lockout
    wait_increment: timedelta = timedelta(seconds=60)  # each failure past it adds this much
    max_wait: timedelta = timedelta(minutes=15)  # the longest temporary lockout
    reset_after: timedelta = timedelta(hours=12)  # quiet time that forgets the failures
    hard_limit: int | None = 100  # consecutive failures that lock until an admin unlocks


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


def starts_lockout(before: ThrottleState, after: ThrottleState, now: datetime) -> bool:
    """Whether the failure that turned ``before`` into ``after`` locked an unlocked record."""
    return after.is_locked(now) and not before.is_locked(now)


def unlocked(state: ThrottleState) -> ThrottleState:
    """The state after an administrator's unlock: no lock, no failures counted."""
    return replace(state, failures=0, consecutive=0, locked_until=None, hard_locked=False)


def client_key(ip: str) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64 network, because one
    IPv6 host can use every address of its /64 (RFC 4291 interface identifiers)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip:{address}"
