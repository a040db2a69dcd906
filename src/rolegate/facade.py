"""The composition root: :class:`Rolegate` turns settings into a database, engines and services."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import TracebackType
from uuid import UUID

from rolegate.audit.recorder import AuditRecorder
from rolegate.authn.passwords import Argon2Hasher, PasswordHasher
from rolegate.authz.compile import compile_snapshot
from rolegate.authz.decision import Decision, Reason
from rolegate.authz.evaluate import decide
from rolegate.config import Settings
from rolegate.db.engine import Database
from rolegate.db.migrate import ensure_current, upgrade
from rolegate.db.models import DEFAULT_TENANT_SLUG
from rolegate.services._context import SYSTEM_ACTOR, ServiceContext
from rolegate.services.assignments import AssignmentService
from rolegate.services.memberships import MembershipService
from rolegate.services.permissions import PermissionService
from rolegate.services.resources import ResourceService
from rolegate.services.roles import RoleService
from rolegate.services.tenants import TenantService
from rolegate.services.users import UserService
from rolegate.types import Clock

log = logging.getLogger("rolegate")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Rolegate:
    """rolegate as a library: ``Rolegate("sqlite:///app.db")``, then services and checks.

    With no URL, the configured database (``ROLEGATE_DATABASE_URL``) is used. A SQLite database
    is upgraded to the current schema on first use; any other is only checked, and must be
    upgraded with ``rolegate db upgrade`` (see ``auto_upgrade``).
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
    ) -> None:
        self.settings = settings or Settings()
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
        ctx = ServiceContext(self.db, AuditRecorder(), self._clock, actor)
        self.tenants = TenantService(ctx)
        self.users = UserService(
            ctx,
            hasher or self._default_hasher(),
            password_min_length=self.settings.password_min_length,
        )
        self.memberships = MembershipService(ctx)
        self.resources = ResourceService(ctx)
        self.permissions = PermissionService(ctx)
        self.roles = RoleService(ctx)
        self.assignments = AssignmentService(ctx)

    def check(
        self, user: str | UUID, permission: str, *, tenant: str | UUID = DEFAULT_TENANT_SLUG
    ) -> bool:
        """Whether ``user`` may do ``permission`` in ``tenant``; any failure denies."""
        return self.explain(user, permission, tenant=tenant).allowed

    def explain(
        self, user: str | UUID, permission: str, *, tenant: str | UUID = DEFAULT_TENANT_SLUG
    ) -> Decision:
        """The decision for ``user``, ``permission`` and ``tenant``, with its reason code.

        Fails closed: an error while deciding is logged and returned as a denial with reason
        ``error``, never raised and never an allow (ARCHITECTURE invariant 3).
        """
        try:
            with self.db.reading() as session:
                snapshot = compile_snapshot(session, user=user, tenant=tenant)
            return decide(snapshot, permission, now=self._clock())
        except Exception:
            log.exception(
                "check failed; denying (user=%r tenant=%r permission=%r)",
                str(user),
                str(tenant),
                permission,
            )
            return Decision.deny(Reason.ERROR)

    def upgrade(self) -> None:
        """Apply every pending schema migration."""
        upgrade(self.db)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

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
