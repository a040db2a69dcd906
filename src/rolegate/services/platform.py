"""The platform tenant's first admin: created once, on an empty platform, never with a default
password."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from rolegate.builtins import PLATFORM_TENANT_ID, TENANT_ADMIN
from rolegate.db.models import MembershipRecord
from rolegate.entities import User
from rolegate.services._context import ServiceContext
from rolegate.services.assignments import AssignmentService
from rolegate.services.users import UserService

BOOTSTRAP_ACTOR = "bootstrap"


class PlatformService:
    """Makes the first platform admin of a new deployment."""

    def __init__(
        self, ctx: ServiceContext, users: UserService, assignments: AssignmentService
    ) -> None:
        self._ctx, self._users, self._assignments = ctx, users, assignments

    def has_members(self) -> bool:
        """Whether anyone belongs to the platform tenant yet."""
        with self._ctx.db.reading() as session:
            count = select(func.count()).where(MembershipRecord.tenant_id == PLATFORM_TENANT_ID)
            return bool(session.scalar(count))

    def bootstrap(
        self, *, username: str = "admin", password: str | None = None
    ) -> tuple[User, str] | None:
        """On a platform tenant nobody belongs to, create ``username`` as its ``tenant-admin``
        (a platform admin) and return it with its password: ``password`` if given (the password
        policy applies), else a random one, to be shown once. Either way it works for one login,
        which must set a new password (``PasswordChangeRequired``): it was printed or sits in the
        environment, so it is an initial password like one an administrator issues. Otherwise
        change nothing and return None."""
        if self.has_members():
            return None
        chosen = password if password is not None else secrets.token_urlsafe(18)
        user = self._users.create(
            username, password=chosen, must_change_password=True, actor=BOOTSTRAP_ACTOR
        )
        self._assignments.assign(PLATFORM_TENANT_ID, user.id, TENANT_ADMIN, actor=BOOTSTRAP_ACTOR)
        return user, chosen
