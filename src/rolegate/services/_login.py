"""Password checks with brute-force protection, shared by login and password change.

Every attempt takes the same path and the same work: one argon2 verification (against a dummy
hash when there is no account to check), then one transaction that re-checks the lockout under
the counters' row locks, updates the counters, records the attempt and, on success, runs the
caller's change (open a session, store a new password).
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from sqlalchemy.orm import Session

from rolegate.authn.devices import clip_user_agent
from rolegate.authn.passwords import PasswordHasher, PasswordPolicy, bounded_password
from rolegate.authn.throttle import (
    CLEAR,
    FailureRate,
    ThrottlePolicy,
    ThrottleState,
    client_key,
    tenant_key,
)
from rolegate.db.lookup import find_login, find_tenant
from rolegate.db.models import (
    LoginAttemptRecord,
    LoginThrottleRecord,
    MembershipRecord,
    TenantRecord,
    UserRecord,
)
from rolegate.errors import (
    AuthenticationFailed,
    InvalidCredentials,
    InvalidInput,
    InvalidPassword,
    LoginThrottled,
    PasswordChangeRequired,
)
from rolegate.services._context import ServiceContext
from rolegate.services._throttles import (
    Counter,
    account_key,
    lock_rows,
    read_states,
    save,
    state_of,
)
from rolegate.services.users import tenant_slugs_of
from rolegate.types import Ref

T = TypeVar("T")

MAX_LOGIN_NAME: Final = 254
#: Reasons that do not count as a failure: the attempt was refused before the password was
#: looked at, or the password was right. A locked account's attempts still count for the
#: client and the tenant, as an unknown name's do: otherwise the client throttle would start
#: later for a real account than for a made-up one, and its 429 would tell them apart.
_NOT_COUNTED: Final = frozenset({"client_locked", "tenant_throttled", "password_change_required"})
#: Reasons answered with :class:`LoginThrottled` (429): they concern a client or a tenant,
#: never one account, so they tell nothing about whether the name typed exists.
_THROTTLED: Final = {"client": "client_locked", "tenant": "tenant_throttled"}


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """The password rules and the brute-force policies (per account, per client, and the
    failure rate per tenant, None for none)."""

    passwords: PasswordPolicy = field(default_factory=PasswordPolicy)
    account: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    client: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(max_failures=100))
    tenant: FailureRate | None = field(default_factory=FailureRate)


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from: a checked IP address and a clipped User-Agent."""

    ip: str | None
    user_agent: str

    @classmethod
    def of(cls, ip: str | None, user_agent: str | None) -> Client:
        """Validate ``ip`` (IPv4 or IPv6) and clip ``user_agent``."""
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(ip))
            except ValueError:
                raise InvalidInput(f"not an IP address: {ip!r}") from None
        return cls(ip, clip_user_agent(user_agent))


@dataclass
class _Attempt:
    """What the read phase of an attempt found."""

    name: str
    tenant_ref: str
    tenant: TenantRecord | None = None
    user: UserRecord | None = None
    is_member: bool = False
    counters: list[Counter] = field(default_factory=list)
    states: dict[str, ThrottleState] = field(default_factory=dict)  # as read, unlocked
    throttled_until: datetime | None = None  # of the client or tenant throttle that refused


@dataclass(frozen=True, slots=True)
class _Replacement:
    """A new hash to store: a changed password, or the same one rehashed."""

    encoded: str
    is_change: bool


class PasswordCheck:
    """Checks a password for a login name in a tenant, and on success runs a callback inside
    the transaction that also records the attempt and updates the failure counters."""

    def __init__(self, ctx: ServiceContext, hasher: PasswordHasher, policy: CheckPolicy) -> None:
        self._ctx, self._hasher, self._policy = ctx, hasher, policy
        self._dummy_hash: str | None = None

    def run(
        self,
        login_name: str,
        password: str,
        tenant: Ref,
        client: Client,
        on_success: Callable[[Session, UserRecord, TenantRecord], T],
        *,
        new_password: str | None = None,
        purpose: str = "login",
    ) -> tuple[T, TenantRecord]:
        """``on_success``'s result and the tenant; :class:`InvalidCredentials` (or
        :class:`PasswordChangeRequired`) after the failure is recorded and committed."""
        if not isinstance(login_name, str) or not isinstance(password, str):
            raise InvalidInput("username and password must be text")
        dummy = self._dummy()
        found = self._find(login_name, tenant, client)
        now = self._ctx.now()
        reason = _ineligible(found, now)
        encoded = found.user.password_hash if reason is None and found.user else None
        normal = self._check_password(password, encoded, dummy)
        if reason is None and normal is None:
            reason = "bad_password"
        replacement: _Replacement | None = None
        if reason is None and found.user is not None and normal is not None:
            reason, replacement = self._replacement(found, normal, new_password, purpose)
        with self._ctx.transaction() as tx:
            rows = lock_rows(tx, _to_lock(found.counters, reason))
            user = tx.get(UserRecord, found.user.id, populate_existing=True) if found.user else None
            if reason is None:
                reason = _recheck(found, user, rows, now, encoded)
            if reason is None and user is not None and found.tenant is not None:
                result = self._succeed(tx, found, user, rows, replacement, now, on_success)
            else:
                self._fail(tx, found, rows, reason or "bad_password", now, client)
            tx.add(_attempt_row(found, client, reason, purpose, now))
        if reason is not None:
            raise _refusal(reason, found, now)
        assert found.tenant is not None
        return result, found.tenant

    def _find(self, login_name: str, tenant: Ref, client: Client) -> _Attempt:
        # Stored as typed, but PostgreSQL text cannot hold NUL: it is shown as U+FFFD.
        found = _Attempt(_storable(login_name[:MAX_LOGIN_NAME]), _storable(str(tenant)[:63]))
        if client.ip is not None:
            found.counters.append(Counter(client_key(client.ip), self._policy.client))
        with self._ctx.db.reading() as session:  # one read for the tenant, user and counters
            if len(login_name) <= MAX_LOGIN_NAME:
                found.tenant = find_tenant(session, tenant)
                found.user = find_login(session, login_name)
            if found.tenant is not None and self._policy.tenant is not None:
                everyone = tenant_key(found.tenant.id)
                found.counters.append(Counter(everyone, self._policy.tenant, found.tenant.id))
            if found.tenant is not None and found.user is not None:
                key = (found.tenant.id, found.user.id)
                found.is_member = session.get(MembershipRecord, key) is not None
                found.counters.append(Counter(account_key(*key), self._policy.account, *key))
            found.states = read_states(session, found.counters)
            for row in (found.tenant, found.user):  # keep them readable after the session
                if row is not None:
                    session.expunge(row)
        return found

    def _dummy(self) -> str:
        # Made at the first attempt, whoever it names, so that attempt costs one hash more
        # for known and unknown users alike (and processes that never log anyone in, such as
        # most CLI commands, never pay for it).
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _check_password(self, password: str, encoded: str | None, dummy: str) -> str | None:
        """The normalised password if it matches ``encoded``; always one verification."""
        try:
            normal = bounded_password(password)
        except InvalidPassword:
            return None  # too long or not text: refused before any hashing, for everyone alike
        if encoded is None:
            # Equal work for unknown users: no account enumeration by timing (Django #20760).
            self._hasher.verify(normal, dummy)
            return None
        return normal if self._hasher.verify(normal, encoded) else None

    def _replacement(
        self, found: _Attempt, normal: str, new_password: str | None, purpose: str
    ) -> tuple[str | None, _Replacement | None]:
        """(reason, new hash): the chosen new password, or a rehash with current parameters."""
        user = found.user
        assert user is not None and user.password_hash is not None
        must_change = purpose == "password_change" or user.must_change_password
        if must_change and new_password is None:
            return "password_change_required", None
        if new_password is not None:  # asked for, or required: the current one was just proven
            with self._ctx.db.reading() as session:
                slugs = tenant_slugs_of(session, user.id)
            checked = self._policy.passwords.check(
                new_password, username=user.username, email=user.email, tenant_slugs=slugs
            )
            if checked == normal:
                raise InvalidPassword("the new password is the current one", rule="unchanged")
            return None, _Replacement(self._hasher.hash(checked), is_change=True)
        if self._hasher.needs_rehash(user.password_hash):
            # The configured parameters changed: upgrade the stored hash now that we can.
            return None, _Replacement(self._hasher.hash(normal), is_change=False)
        return None, None

    def _succeed(
        self,
        tx: Session,
        found: _Attempt,
        user: UserRecord,
        rows: dict[str, LoginThrottleRecord],
        replacement: _Replacement | None,
        now: datetime,
        on_success: Callable[[Session, UserRecord, TenantRecord], T],
    ) -> T:
        assert found.tenant is not None
        for counter in found.counters:
            if counter.user_id is not None:  # a success clears the account, not the address
                save(rows[counter.key], CLEAR)
        user.last_login_at = now
        if replacement is not None:
            user.password_hash = replacement.encoded
            if replacement.is_change:
                user.must_change_password = False
                user.password_changed_at = now
        result = on_success(tx, user, found.tenant)
        self._ctx.audit(
            tx,
            "auth.login_succeeded",
            "user",
            user.id,
            tenant_id=found.tenant.id,
            actor=str(user.id),
        )
        return result

    def _fail(
        self,
        tx: Session,
        found: _Attempt,
        rows: dict[str, LoginThrottleRecord],
        reason: str,
        now: datetime,
        client: Client,
    ) -> None:
        tenant_id = found.tenant.id if found.tenant else None
        if reason not in _NOT_COUNTED:
            for counter in found.counters:
                if reason == "locked" and counter.kind == "account":
                    continue  # a lockout is not extended by the attempts it refuses
                if counter.key not in rows:
                    continue  # a right password refused under the locks: see _to_lock
                row = rows[counter.key]
                before = state_of(row)
                after, is_news = counter.after_failure(before, now)
                save(row, after)
                if is_news:
                    kind = counter.kind
                    self._ctx.audit(
                        tx,
                        f"auth.{kind}_throttled" if kind == "tenant" else f"auth.{kind}_locked",
                        {"account": "user"}.get(kind, kind),
                        counter.user_id or counter.tenant_id or client.ip,
                        tenant_id=counter.tenant_id,
                        actor="system",
                        details={
                            "failures": after.failures,
                            "locked_until": after.locked_until,
                            "hard_locked": after.hard_locked,
                        },
                    )
        self._ctx.audit(
            tx,
            "auth.login_failed",
            "user",
            found.user.id if found.user else "unknown",
            tenant_id=tenant_id,
            actor="anonymous",
            details={"username": found.name, "reason": reason, "ip": client.ip},
        )


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _ineligible(found: _Attempt, now: datetime) -> str | None:
    """Why the attempt fails whatever the password, or None when the password decides."""
    throttled = _throttled(found, found.states, now)
    if throttled is not None:
        return throttled
    if found.tenant is None:
        return "unknown_tenant"
    if found.user is None:
        return "unknown_user"
    if not found.is_member:
        return "not_member"
    if not found.user.is_active:
        return "inactive"
    if found.user.password_hash is None:
        return "no_password"
    for counter in found.counters:
        if counter.user_id is not None and found.states[counter.key].is_locked(now):
            return "locked"
    return None


def _recheck(
    found: _Attempt,
    user: UserRecord | None,
    rows: dict[str, LoginThrottleRecord],
    now: datetime,
    verified_hash: str | None,
) -> str | None:
    """The same checks under the row locks: a lockout, deactivation or password change that
    committed while the password was being verified wins (fail closed)."""
    states = {c.key: state_of(rows[c.key]) for c in found.counters if c.key in rows}
    throttled = _throttled(found, states, now)
    if throttled is not None:
        return throttled
    if any(state.is_locked(now) for state in states.values()):
        return "locked"  # the client and tenant were looked at: this is the account
    if user is None or not user.is_active:
        return "inactive"
    if user.password_hash != verified_hash:
        return "password_changed"
    return None


def _to_lock(counters: list[Counter], reason: str | None) -> list[Counter]:
    """The counters to lock for the write: all of them for a failure, but not the tenant's for
    a right password. That one row is shared by every login in the tenant, and a success never
    changes it; locking it would queue the tenant's logins one behind the other. (The rare
    right password refused under the locks after all is then not counted for the tenant.)"""
    if reason is not None:
        return counters
    return [counter for counter in counters if counter.kind != "tenant"]


def _throttled(found: _Attempt, states: dict[str, ThrottleState], now: datetime) -> str | None:
    """``client_locked`` or ``tenant_throttled`` when that throttle refuses the attempt (and
    until when, in ``found``); the account's own lockout is not looked at here."""
    for counter in found.counters:
        state = states.get(counter.key)
        if counter.kind in _THROTTLED and state is not None and state.is_locked(now):
            found.throttled_until = state.locked_until
            return _THROTTLED[counter.kind]
    return None


def _refusal(reason: str, found: _Attempt, now: datetime) -> AuthenticationFailed:
    """The error a refused attempt raises: 429's for a client or tenant throttle, the one
    :class:`InvalidCredentials` for everything about the account (OWASP ASVS 6.3)."""
    if reason == "password_change_required":
        return PasswordChangeRequired()
    if reason in _THROTTLED.values() and found.throttled_until is not None:
        return LoginThrottled(retry_after=_seconds_until(found.throttled_until, now), reason=reason)
    return InvalidCredentials(reason=reason)


def _seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds until ``moment``, at least 1 (a ``Retry-After`` value, RFC 9110 §10.2.3)."""
    return max(1, math.ceil((moment - now).total_seconds()))


def _attempt_row(
    found: _Attempt, client: Client, reason: str | None, purpose: str, now: datetime
) -> LoginAttemptRecord:
    return LoginAttemptRecord(
        occurred_at=now,
        username=found.name,
        user_id=found.user.id if found.user else None,
        tenant=found.tenant_ref,
        tenant_id=found.tenant.id if found.tenant else None,
        succeeded=reason is None,
        reason=reason or purpose,
        ip=client.ip,
        user_agent=client.user_agent,
    )
