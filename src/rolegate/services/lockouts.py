"""``rg.auth``'s lockouts: the brute-force state of an account or a client, and clearing it.

The counters themselves are kept by :mod:`rolegate.services._throttles`, and counted by the
one credential check (:class:`rolegate.services._login.PasswordCheck`); this is how operators
and tenant administrators read and reset them.
"""

from __future__ import annotations

from rolegate.authn.throttle import CLEAR
from rolegate.builtins import DEFAULT_TENANT_SLUG
from rolegate.db.models import LoginThrottleRecord
from rolegate.entities import Lockout
from rolegate.services._context import ServiceContext, require_tenant
from rolegate.services._throttles import clear, lockout_value, state_of, throttle_key
from rolegate.services.memberships import require_member
from rolegate.types import Ref


class LockoutService:
    """Reading and clearing the failure counters of accounts and clients."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def lockout(
        self, user: Ref | None = None, *, tenant: Ref = DEFAULT_TENANT_SLUG, ip: str | None = None
    ) -> Lockout:
        """The brute-force state of ``user``'s account in ``tenant``, or of client ``ip``."""
        with self._ctx.db.reading() as session:
            key = throttle_key(session, user, tenant, ip)
            state = state_of(session.get(LoginThrottleRecord, key))
        return lockout_value(key, state, now_locked=state.is_locked(self._ctx.now()))

    def unlock(
        self,
        user: Ref | None = None,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        ip: str | None = None,
        actor: str | None = None,
    ) -> Lockout:
        """Clear the failures and any lockout of ``user`` in ``tenant`` (or of client ``ip``)."""
        with self._ctx.transaction() as tx:
            key = throttle_key(tx, user, tenant, ip)
            clear(self._ctx, tx, key, actor=actor)
        return lockout_value(key, CLEAR, now_locked=False)

    def unlock_member(self, user: Ref, *, tenant: Ref, actor: str | None = None) -> Lockout:
        """:meth:`unlock` a member of ``tenant``; anyone else is :class:`UserNotFound`, as a
        missing user is."""
        with self._ctx.db.reading() as session:
            tenant_row = require_tenant(session, tenant)
            member_id, tenant_id = require_member(session, tenant_row, user).id, tenant_row.id
        return self.unlock(member_id, tenant=tenant_id, actor=actor)
