"""Stored brute-force counters: read them, lock them for an atomic update, save them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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
    unlocked,
)
from rolegate.db.models import LoginThrottleRecord
from rolegate.entities import Lockout
from rolegate.errors import InvalidInput
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.types import Ref


@dataclass(frozen=True, slots=True)
class Counter:
    """One throttle: its key, what it belongs to, and the policy it follows."""

    key: str
    policy: ThrottlePolicy | FailureRate
    tenant_id: UUID | None = None
    user_id: UUID | None = None

    @property
    def kind(self) -> str:
        """``account``, ``tenant`` or ``client``."""
        if self.user_id is not None:
            return "account"
        return "tenant" if isinstance(self.policy, FailureRate) else "client"

    def after_failure(self, before: ThrottleState, now: datetime) -> tuple[ThrottleState, bool]:
        """The state after one more failure, and whether that failure is worth an audit event
        (it started a lockout; for a tenant, it first filled the failure budget)."""
        if isinstance(self.policy, FailureRate):
            after = after_rate_failure(before, self.policy, now)
            return after, fills_bucket(before, after, self.policy)
        after = after_failure(before, self.policy, now)
        return after, starts_lockout(before, after, now)


def account_key(tenant_id: UUID, user_id: UUID) -> str:
    """The key of one account's counters in one tenant: a lockout in A leaves B alone."""
    return f"user:{tenant_id}:{user_id}"


def state_of(row: LoginThrottleRecord | None) -> ThrottleState:
    """The pure state held by a row (a missing row is a clean record)."""
    if row is None:
        return CLEAR
    return ThrottleState(
        row.failures, row.consecutive, row.last_failure_at, row.locked_until, row.hard_locked
    )


def read_states(session: Session, counters: Sequence[Counter]) -> dict[str, ThrottleState]:
    """Current states, without locking (for the decision made before hashing)."""
    keys = [c.key for c in counters]
    rows = session.scalars(select(LoginThrottleRecord).where(LoginThrottleRecord.key.in_(keys)))
    found = {row.key: state_of(row) for row in rows}
    return {key: found.get(key, CLEAR) for key in keys}


def lock_rows(tx: Session, counters: Sequence[Counter]) -> dict[str, LoginThrottleRecord]:
    """Create missing rows and lock them all until commit, in key order (no deadlocks).

    ``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE`` makes concurrent
    failures queue on the row on PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE.
    So no increment is lost.
    """
    if not counters:
        return {}
    dialect_insert = sqlite_insert if tx.get_bind().dialect.name == "sqlite" else pg_insert
    tx.execute(
        dialect_insert(LoginThrottleRecord)
        .values(
            [
                {
                    "key": c.key,
                    "tenant_id": c.tenant_id,
                    "user_id": c.user_id,
                    "failures": 0,
                    "consecutive": 0,
                    "hard_locked": False,
                }
                for c in counters
            ]
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = tx.scalars(
        select(LoginThrottleRecord)
        .where(LoginThrottleRecord.key.in_([c.key for c in counters]))
        .order_by(LoginThrottleRecord.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.key: row for row in rows}


def save(row: LoginThrottleRecord, state: ThrottleState) -> None:
    """Write ``state`` into the locked ``row``."""
    row.failures, row.consecutive = state.failures, state.consecutive
    row.last_failure_at, row.locked_until = state.last_failure_at, state.locked_until
    row.hard_locked = state.hard_locked


def lockout_value(key: str, state: ThrottleState, *, now_locked: bool) -> Lockout:
    """The public value of a throttle state."""
    return Lockout(
        key=key,
        failures=state.failures,
        consecutive=state.consecutive,
        last_failure_at=state.last_failure_at,
        locked_until=state.locked_until,
        hard_locked=state.hard_locked,
        is_locked=now_locked,
    )


def throttle_key(session: Session, user: Ref | None, tenant: Ref, ip: str | None) -> str:
    """The key of ``user``'s account in ``tenant``, or of client ``ip``: exactly one is named."""
    if (user is None) == (ip is None):
        raise InvalidInput("name either a user or a client IP address")
    if ip is not None:
        try:
            return client_key(ip)
        except ValueError:
            raise InvalidInput(f"not an IP address: {ip!r}") from None
    assert user is not None
    return account_key(require_tenant(session, tenant).id, require_user(session, user).id)


def clear(ctx: ServiceContext, tx: Session, key: str, *, actor: str | None) -> None:
    """An administrator's unlock of ``key``: no failures, no lockout; audited."""
    row = tx.get(LoginThrottleRecord, key, with_for_update=True)
    before = state_of(row)
    if row is not None:
        save(row, unlocked(before))
    is_client = key.startswith("ip:")
    ctx.audit(
        tx,
        "auth.unlocked",
        "client" if is_client else "user",
        key.removeprefix("ip:") if is_client else key.rsplit(":", 1)[-1],
        tenant_id=row.tenant_id if row is not None else None,
        actor=actor,
        details={"was_locked": before.is_locked(ctx.now()), "failures": before.failures},
    )
