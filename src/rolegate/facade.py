"""The composition root: :class:`Rolegate` turns settings into a database, engines and services."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from uuid import UUID

from rolegate.audit.recorder import AuditRecorder
from rolegate.authn.keys import ASYMMETRIC, SYMMETRIC, KeyRing
from rolegate.authn.passwords import Argon2Hasher, PasswordHasher, PasswordPolicy
from rolegate.authn.throttle import FailureRate, ThrottlePolicy
from rolegate.authn.tokens import TokenRules
from rolegate.authz.cache import Authorizer, CacheStats
from rolegate.authz.decision import Decision, Reason
from rolegate.authz.evaluate import HeldRole, decide, effective_permissions, held_roles
from rolegate.authz.freshness import Freshness, FreshnessReading
from rolegate.authz.holders import HolderPage
from rolegate.authz.watch import ChangeWatcher
from rolegate.builtins import DEFAULT_TENANT_SLUG
from rolegate.config import Settings
from rolegate.db.engine import Database
from rolegate.db.engine import is_storage_failure as is_storage_failure
from rolegate.db.migrate import current_revision, ensure_current, upgrade
from rolegate.db.migrate import head_revision as head_revision
from rolegate.errors import InvalidInput, PolicyStale, StorageError
from rolegate.pages import MAX_PAGE_SIZE
from rolegate.services._context import SYSTEM_ACTOR, ServiceContext
from rolegate.services._login import CheckPolicy, PasswordCheck
from rolegate.services.access import AccessService
from rolegate.services.assignments import AssignmentService
from rolegate.services.audit_log import AuditService
from rolegate.services.auth import AuthPolicy, AuthService
from rolegate.services.decisions import DecisionLog
from rolegate.services.invitations import InvitationService
from rolegate.services.keys import KeyService
from rolegate.services.memberships import MembershipService
from rolegate.services.permissions import PermissionService
from rolegate.services.platform import PlatformService
from rolegate.services.resources import ResourceService
from rolegate.services.roles import RoleService
from rolegate.services.tenants import TenantService
from rolegate.services.users import UserService
from rolegate.types import Clock, Ref

log = logging.getLogger("rolegate")


#: Longest the change watcher on PostgreSQL goes without reading the revision (it also reads
#: at once on each notification); a quarter of a shorter staleness bound.
CONFIRM_EVERY = 0.25
#: What the warm path reads while the policy may be stale: nothing, so every check takes the
#: slow path, which denies (see :meth:`Rolegate.check`).


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timer_of(clock: Clock | None) -> Callable[[], float]:
    """POSIX seconds from ``clock``; :func:`time.time` itself when no clock is injected."""
    if clock is None:
        return time.time
    return lambda: clock().timestamp()


class Rolegate:
    """rolegate as a library: ``Rolegate("sqlite:///app.db")``, then services and checks.

    With no URL, the configured database (``ROLEGATE_DATABASE_URL``) is used. A SQLite database
    is upgraded to the current schema on first use; any other is only checked, and must be
    upgraded with ``rolegate db upgrade`` (see ``auto_upgrade``).

    Checks deny (reason ``stale``) once the process has not confirmed for ``max_staleness``
    (``ROLEGATE_MAX_STALENESS``, 5 s) that its policy is current; see docs/authorization.md.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        hasher: PasswordHasher | None = None,
        clock: Clock | None = None,
        actor: str = SYSTEM_ACTOR,
        auto_upgrade: bool | None = None,
        max_staleness: timedelta | None = None,
    ) -> None:
        self.settings = settings or Settings()
        bound = _staleness_bound(self.settings, max_staleness)
        url = database_url if database_url is not None else self.settings.database_url
        self.db = Database(url, echo=self.settings.sql_echo)
        self._clock = clock or _utcnow
        if auto_upgrade is None:
            auto_upgrade = self.settings.auto_upgrade
        try:
            ensure_current(
                self.db, auto_upgrade=self.db.is_sqlite if auto_upgrade is None else auto_upgrade
            )
        except BaseException:
            self.db.dispose()  # nobody can close a Rolegate that was never returned
            raise
        self._timer = _timer_of(clock)
        self._freshness = Freshness(bound, on_demand=not self.settings.watch_changes)
        try:
            self._authz = Authorizer(
                self.db,
                timer=self._timer,
                freshness=self._freshness,
                capacity=self.settings.authz_cache_size,
                refresh_on_demand=not self.settings.watch_changes,
            )
        except BaseException:
            self.db.dispose()
            raise
        # The checks are the authorizer's own bound methods: no frame of the facade's.
        self.check = self._authz.check  # type: ignore[method-assign]
        self.check_many = self._authz.check_many  # type: ignore[method-assign]
        self._watcher = ChangeWatcher(
            self.db,
            self._authz.catch_up,
            interval=self.settings.watch_interval.total_seconds(),
            confirm_every=min(CONFIRM_EVERY, bound / 4),
            timeout=bound,
        )
        ctx = ServiceContext(
            self.db, AuditRecorder(), self._clock, actor, on_commit=self._authz.apply_own
        )
        self.tenants = TenantService(ctx)
        hasher = hasher or self._default_hasher()
        passwords = PasswordPolicy(min_length=self.settings.password_min_length)
        self.users = UserService(ctx, hasher, passwords)
        self.memberships = MembershipService(ctx, invitation_ttl=self.settings.invitation_ttl)
        self.invitations = InvitationService(ctx)
        self.resources = ResourceService(ctx)
        self.permissions = PermissionService(ctx)
        self.roles = RoleService(ctx)
        self.assignments = AssignmentService(ctx)
        self.decisions = _decision_log(ctx, self.settings)
        self._authz.attach(self.decisions)
        self.access = AccessService(ctx, self._authz.snapshot, self.decisions)
        self.keys = KeyService(
            ctx,
            _key_ring(self.settings),
            token_ttl=self.settings.access_token_ttl,
            leeway=self.settings.token_leeway,
        )
        self.audit = AuditService(ctx, self.keys)
        policy = _auth_policy(self.settings, passwords)
        self.platform = PlatformService(ctx, self.users, self.assignments)
        self.auth = AuthService(
            ctx,
            PasswordCheck(ctx, hasher, policy.check),
            self.keys,
            policy,
            timer=self._timer,
            claims=self._claims,
        )
        # This process's own changes reach the cache at commit (ServiceContext.on_commit:
        # stale for not one more check); sessions and keys follow the cache, whichever process
        # made the change.
        self._authz.subscribe(self.auth.apply)
        self._freshness.start()
        if self.settings.watch_changes:
            self._watcher.start()

    @property
    def revision(self) -> int:
        """The newest policy revision whose changes this process's checks reflect."""
        return self._authz.revision

    def catch_up(self) -> int:
        """Apply every policy change committed by any process up to now (one cheap read when
        there is none) and return the revision reached: after it, no check answers from
        before a change that was acknowledged before the call.

        Raises :class:`StorageError` when the database does not answer, and
        :class:`PolicyStale` once that has lasted past the staleness bound."""
        try:
            return self._authz.catch_up()
        except StorageError as exc:
            if self._freshness.notice():
                raise self._freshness.stale_error() from exc
            raise

    @property
    def freshness(self) -> FreshnessReading:
        """Whether the policy may be stale, and since when it was last confirmed current."""
        return self._freshness.reading()

    def warm_up(self, *, tenant: Ref | None = None, freeze_gc: bool = False) -> int:
        """Compile every member's snapshot (of ``tenant``, or all), keyed by slug and username.

        With ``freeze_gc``, then call :func:`gc.freeze`: every object alive, the compiled
        policy included, leaves the cyclic collector's generations, so a full collection no
        longer walks them (a large policy otherwise adds tens to hundreds of ms to each full
        collection; see docs/benchmarks.md). Returns the number of snapshots cached.
        """
        cached = self._authz.warm_up(tenant)
        if freeze_gc:
            gc.collect()  # collect what is garbage now, so it is not frozen with the rest
            gc.freeze()
        return cached

    def cache_stats(self) -> CacheStats:
        """What the authorization cache holds, and how many compiles it has needed."""
        return self._authz.stats()

    def check(
        self,
        user: Ref,
        permission: str,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> bool:
        """Whether ``user`` may do ``permission`` in ``tenant``; any failure denies.

        With ``at_least`` (a revision a change returned), the answer reflects that change.
        Each instance binds :meth:`Authorizer.check <rolegate.authz.check.Checks.check>`
        itself in place of this method (the same signature): no frame is added.
        """
        return self._authz.check(user, permission, tenant=tenant, at_least=at_least)

    def check_many(
        self,
        user: Ref,
        permissions: Iterable[str],
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> list[bool]:
        """One answer per permission, in order, for one user; any failure denies them all, but
        a stale policy raises :class:`PolicyStale` (every permission recorded as denied).
        Bound per instance, as :meth:`check` is."""
        return self._authz.check_many(user, permissions, tenant=tenant, at_least=at_least)

    def check_pairs(
        self,
        pairs: Iterable[tuple[Ref, str]],
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> list[bool]:
        """One answer per (user, permission) pair, in order: batch checks across many users."""
        wanted = list(pairs)
        if at_least is not None:
            try:
                self._authz.wait_for(at_least)
            except Exception:
                log.exception("check_pairs could not reach revision %d; denying", at_least)
                return [False] * len(wanted)
        return [self.check(user, permission, tenant=tenant) for user, permission in wanted]

    def explain(
        self,
        user: Ref,
        permission: str,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        at_least: int | None = None,
    ) -> Decision:
        """The decision with its reason code and, when allowed, every chain that allows it.

        Fails closed: an error while deciding is logged and returned as a denial with reason
        ``error``, never raised and never an allow (ARCHITECTURE invariant 3); a policy that
        may be stale is a denial with reason ``stale`` (invariant 7).
        """
        try:
            self._authz.wait_for(at_least)
            snapshot = self._authz.snapshot(tenant, user)
            return decide(snapshot, permission, now=self._timer())
        except PolicyStale:
            return Decision.deny(Reason.STALE, revision=self._authz.revision)
        except Exception:
            log.exception(
                "check failed; denying (user=%r tenant=%r permission=%r)",
                str(user),
                str(tenant),
                permission,
            )
            return Decision.deny(Reason.ERROR)

    def permissions_of(
        self, user: Ref, *, tenant: Ref = DEFAULT_TENANT_SLUG, at_least: int | None = None
    ) -> tuple[str, ...]:
        """Every permission and wildcard pattern ``user`` holds in ``tenant`` now, sorted."""
        self._authz.wait_for(at_least)
        return effective_permissions(self._authz.snapshot(tenant, user), now=self._timer())

    def roles_of(
        self, user: Ref, *, tenant: Ref = DEFAULT_TENANT_SLUG, at_least: int | None = None
    ) -> list[HeldRole]:
        """Every role ``user`` holds in ``tenant`` now, assigned or inherited, with expiry."""
        self._authz.wait_for(at_least)
        return held_roles(self._authz.snapshot(tenant, user), now=self._timer())

    def who_can(
        self,
        permission: str,
        *,
        tenant: Ref = DEFAULT_TENANT_SLUG,
        cursor: str | None = None,
        limit: int = 100,
        at_least: int | None = None,
    ) -> HolderPage:
        """One page of the active members holding ``permission``, and through which roles.

        Complete: follow ``next_cursor`` until it is None and every holder has been listed.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        self._authz.wait_for(at_least)
        return self._authz.holders(permission, tenant=tenant, cursor=cursor, limit=limit)

    def upgrade(self) -> None:
        """Apply every pending schema migration."""
        upgrade(self.db)

    def readiness(self) -> tuple[bool, str]:
        """Whether the database answers, its schema is the one this rolegate needs and the policy
        is confirmed current, with the revision it is at (``"none"`` for an empty database,
        ``"unreachable"``, ``"stale"``): a readiness probe."""
        if self._freshness.is_stale:
            try:
                self.catch_up()  # a confirmation, if the database answers (no watcher: expected)
            except StorageError:
                return False, "stale"
        try:
            current = current_revision(self.db)
        except StorageError:
            log.warning("readiness: the database does not answer", exc_info=True)
            return False, "unreachable"
        return current == head_revision(), current or "none"

    def close(self) -> None:
        """Write the buffered decision records, stop watching for changes and release database
        connections."""
        self._authz.detach()  # later checks count their decisions as dropped
        if self.decisions is not None:
            self.decisions.close()
        self._watcher.stop()
        self._freshness.stop()
        self.db.dispose()

    def _claims(self, user_id: UUID, tenant_id: UUID) -> tuple[list[str], list[str]]:
        snapshot = self._authz.snapshot(tenant_id, user_id)
        now = self._timer()
        roles = sorted({held.name for held in held_roles(snapshot, now=now)})
        return roles, list(effective_permissions(snapshot, now=now))

    def __enter__(self) -> Rolegate:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _default_hasher(self) -> PasswordHasher:
        return Argon2Hasher(
            memory_kib=self.settings.argon2_memory_kib,
            time_cost=self.settings.argon2_time_cost,
            parallelism=self.settings.argon2_parallelism,
        )


# What an operator does to the schema before a Rolegate can open the database (which refuses a
# schema that is not current): read its revision, and upgrade it.


def schema_revision(database_url: str, *, echo: bool = False) -> str | None:
    """The migration the database at ``database_url`` is at, or None for an empty database."""
    db = Database(database_url, echo=echo)
    try:
        return current_revision(db)
    finally:
        db.dispose()


def upgrade_database(database_url: str, *, echo: bool = False) -> tuple[str | None, str | None]:
    """Apply every pending migration to the database at ``database_url`` (creating the tables
    of an empty one); the revisions it was at before and is at after."""
    db = Database(database_url, echo=echo)
    try:
        before = current_revision(db)
        upgrade(db)
        return before, current_revision(db)
    finally:
        db.dispose()


def _staleness_bound(settings: Settings, max_staleness: timedelta | None) -> float:
    """The staleness bound in seconds: the argument, else the setting; more than two watcher
    polls, so a healthy process is never stale between them."""
    bound = (settings.max_staleness if max_staleness is None else max_staleness).total_seconds()
    if bound <= 2 * settings.watch_interval.total_seconds():
        raise InvalidInput("max_staleness must be more than twice watch_interval")
    return bound


def _decision_log(ctx: ServiceContext, settings: Settings) -> DecisionLog | None:
    if not settings.audit_decisions:
        return None
    return DecisionLog(
        ctx,
        sample_rate=settings.audit_sample_rate,
        capacity=settings.audit_buffer_size,
        batch=settings.audit_batch_size,
        interval=settings.audit_flush_interval.total_seconds(),
        share=settings.audit_writer_share,
    )


def _key_ring(settings: Settings) -> KeyRing:
    secret = settings.token_secret.get_secret_value().encode() if settings.token_secret else None
    passphrase = settings.key_encryption_key
    return KeyRing(
        settings.token_algorithm,
        secret=secret,
        passphrase=passphrase.get_secret_value().encode() if passphrase else None,
    )


def _auth_policy(settings: Settings, passwords: PasswordPolicy) -> AuthPolicy:
    def throttle(max_failures: int, hard_limit: int | None) -> ThrottlePolicy:
        return ThrottlePolicy(
            max_failures=max_failures,
            wait_increment=settings.lockout_wait_increment,
            max_wait=settings.lockout_max_wait,
            reset_after=settings.lockout_reset,
            hard_limit=hard_limit,
        )

    # HS256 verifies only when it is the configured algorithm: a public key must never be
    # usable as an HMAC secret (RFC 8725 §2.1).
    algorithms = {SYMMETRIC} if settings.token_algorithm == SYMMETRIC else set(ASYMMETRIC)
    return AuthPolicy(
        rules=TokenRules(
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            algorithms=frozenset(algorithms),
            leeway=settings.token_leeway.total_seconds(),
        ),
        access_ttl=settings.access_token_ttl,
        idle_timeout=settings.session_idle_timeout,
        lifetime=settings.session_lifetime,
        check=CheckPolicy(
            passwords=passwords,
            account=throttle(settings.lockout_failures, settings.lockout_hard_limit or None),
            # No hard lock for an address: it would let anyone behind one NAT lock out the rest.
            client=throttle(settings.lockout_ip_failures, None),
            tenant=FailureRate(settings.lockout_tenant_failures, settings.lockout_tenant_window)
            if settings.lockout_tenant_failures
            else None,
        ),
        permission_claims=settings.token_permission_claims,
        claims_limit=settings.token_claims_limit,
        token_cache_size=settings.token_cache_size,
    )
