"""``rg.auth``: one entry point over the authentication services, one concept per module.

=========================================  ==================================================
:mod:`rolegate.services.login`             login, change_password, refresh
:mod:`rolegate.services.tokens`            verify, jwks, apply (the verification caches)
:mod:`rolegate.services.sessions`          sessions, tenant_sessions, logout, revoke_*
:mod:`rolegate.services.lockouts`          lockout, unlock, unlock_member
:mod:`rolegate.services.login_attempts`    login_history, login_page
=========================================  ==================================================

:class:`AuthService` builds them from one :class:`AuthPolicy` and exposes their methods as its
own bound attributes: no wrapper frames, so ``rg.auth.verify`` costs what the token service's
``verify`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from rolegate.authn.tokens import TokenRules
from rolegate.services._context import ServiceContext
from rolegate.services._login import CheckPolicy, PasswordCheck
from rolegate.services.keys import KeyService
from rolegate.services.lockouts import LockoutService
from rolegate.services.login import ClaimsSource, LoginService
from rolegate.services.login_attempts import LoginAttemptService
from rolegate.services.sessions import SessionService
from rolegate.services.tokens import TokenService


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Lifetimes, limits and rules as plain values (the facade reads them from settings)."""

    rules: TokenRules
    access_ttl: timedelta = timedelta(minutes=10)
    idle_timeout: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    check: CheckPolicy = field(default_factory=CheckPolicy)
    permission_claims: bool = False
    claims_limit: int = 200
    token_cache_size: int = 100_000


class AuthService:
    """Logins, sessions, tokens, lockouts and login history, under one name."""

    def __init__(
        self,
        ctx: ServiceContext,
        check: PasswordCheck,
        keys: KeyService,
        policy: AuthPolicy,
        *,
        timer: Callable[[], float],
        claims: ClaimsSource | None = None,
    ) -> None:
        logins = LoginService(
            ctx,
            check,
            keys,
            policy.rules,
            access_ttl=policy.access_ttl,
            idle_timeout=policy.idle_timeout,
            lifetime=policy.lifetime,
            claims=claims if policy.permission_claims else None,
            claims_limit=policy.claims_limit,
        )
        tokens = TokenService(
            ctx, keys, policy.rules, timer=timer, cache_size=policy.token_cache_size
        )
        sessions = SessionService(ctx, idle_timeout=policy.idle_timeout)
        lockouts = LockoutService(ctx)
        attempts = LoginAttemptService(ctx)
        self.login = logins.login
        self.change_password = logins.change_password
        self.refresh = logins.refresh
        self.verify = tokens.verify  # the hot path: bound once, so no frame is added per call
        self.jwks = tokens.jwks
        self.apply = tokens.apply
        self.logout = sessions.logout
        self.revoke_session = sessions.revoke_session
        self.revoke_all = sessions.revoke_all
        self.sessions = sessions.sessions
        self.tenant_sessions = sessions.tenant_sessions
        self.revoke_tenant_session = sessions.revoke_tenant_session
        self.lockout = lockouts.lockout
        self.unlock = lockouts.unlock
        self.unlock_member = lockouts.unlock_member
        self.login_history = attempts.login_history
        self.login_page = attempts.login_page
