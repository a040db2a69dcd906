"""Users: global accounts, their profile, activation and password."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from rolegate.authn.passwords import PasswordHasher, PasswordPolicy
from rolegate.authz.changes import Change
from rolegate.db.lookup import Ref
from rolegate.db.models import MembershipRecord, SessionRecord, TenantRecord, UserRecord
from rolegate.entities import User
from rolegate.errors import InvalidInput, UserExists
from rolegate.names import email_key, parse_email, parse_username, username_key
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services._sessions import end_sessions
from rolegate.types import UserId

MAX_FULL_NAME: Final = 200


class Unset(Enum):
    """Marks an update argument that was not given (``None`` may be a real value)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


def user_entity(row: UserRecord, *, revision: int = 0) -> User:
    """The public value of a user row (never the password hash)."""
    return User(
        id=UserId(row.id),
        username=row.username,
        email=row.email,
        full_name=row.full_name,
        is_active=row.is_active,
        has_password=row.password_hash is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
        preferences=dict(row.preferences),
        must_change_password=row.must_change_password,
        revision=revision,
    )


def _profile(row: UserRecord) -> dict[str, Any]:
    return {
        "username": row.username,
        "email": row.email,
        "full_name": row.full_name,
        "is_active": row.is_active,
        "preferences": dict(row.preferences),
    }


def _full_name(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_FULL_NAME:
        raise InvalidInput(f"full name longer than {MAX_FULL_NAME} characters")
    return value


def _preferences(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidInput("preferences must be a JSON object with string keys")
    try:  # fail here, typed, rather than in the driver; NaN is no JSON and JSONB refuses it
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"preferences must hold JSON values only: {exc}") from None
    return dict(value)


def tenant_slugs_of(session: Session, user_id: UUID) -> tuple[str, ...]:
    """The slugs of the tenants ``user_id`` belongs to (words a password must not contain)."""
    return tuple(
        session.scalars(
            select(TenantRecord.slug)
            .join(MembershipRecord, MembershipRecord.tenant_id == TenantRecord.id)
            .where(MembershipRecord.user_id == user_id)
            .order_by(TenantRecord.slug)
        )
    )


class UserService:
    """Creates and maintains user accounts; passwords are stored as argon2id hashes only."""

    def __init__(
        self, ctx: ServiceContext, hasher: PasswordHasher, policy: PasswordPolicy | None = None
    ) -> None:
        self._ctx, self._hasher = ctx, hasher
        self._policy = policy or PasswordPolicy()

    def create(
        self,
        username: str,
        *,
        email: str | None = None,
        full_name: str = "",
        password: str | None = None,
        must_change_password: bool = False,
        is_active: bool = True,
        preferences: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> User:
        """Create a user; without ``password`` the account cannot log in with one. With
        ``must_change_password``, the first login must choose a new one."""
        name = parse_username(username)
        mail = parse_email(email) if email is not None else None
        password_hash = (
            self._hash(password, username=name, email=mail) if password is not None else None
        )
        now = self._ctx.now()
        row = UserRecord(
            username=name,
            username_key=username_key(name),
            email=mail,
            email_key=email_key(mail) if mail else None,
            full_name=_full_name(full_name),
            password_hash=password_hash,
            is_active=is_active,
            preferences=_preferences(preferences or {}),
            must_change_password=must_change_password and password is not None,
            password_changed_at=now if password is not None else None,
            created_at=now,
            updated_at=now,
        )
        with self._ctx.transaction() as tx:
            self._assert_unique(tx, row)
            tx.add(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "user.created",
                "user",
                row.id,
                tenant_id=None,
                actor=actor,
                details={"after": _profile(row), "has_password": password is not None},
            )
            revision = self._ctx.bump(tx, Change.user(row.id))
        return user_entity(row, revision=revision)

    def get(self, user: Ref) -> User:
        """The user with this username (case-insensitive), or id."""
        with self._ctx.db.reading() as session:
            return user_entity(require_user(session, user))

    def list(self, *, tenant: Ref | None = None, active: bool | None = None) -> list[User]:
        """Users by username, optionally only members of ``tenant`` and by activity."""
        with self._ctx.db.reading() as session:
            query = select(UserRecord).order_by(UserRecord.username_key)
            if tenant is not None:
                tenant_row = require_tenant(session, tenant)
                query = query.join(MembershipRecord, MembershipRecord.user_id == UserRecord.id)
                query = query.where(MembershipRecord.tenant_id == tenant_row.id)
            if active is not None:
                query = query.where(UserRecord.is_active == active)
            return [user_entity(row) for row in session.scalars(query)]

    def update(
        self,
        user: Ref,
        *,
        username: str | None = None,
        email: str | None | Unset = UNSET,
        full_name: str | None = None,
        preferences: dict[str, Any] | None = None,
        actor: str | None = None,
    ) -> User:
        """Change profile fields; pass ``email=None`` to remove the email address."""
        with self._ctx.transaction() as tx:
            row = require_user(tx, user)
            before = _profile(row)
            if username is not None:
                row.username = parse_username(username)
                row.username_key = username_key(row.username)
            if not isinstance(email, Unset):
                row.email = parse_email(email) if email is not None else None
                row.email_key = email_key(row.email) if row.email else None
            if full_name is not None:
                row.full_name = _full_name(full_name)
            if preferences is not None:
                row.preferences = _preferences(preferences)
            self._assert_unique(tx, row)
            return self._save(tx, row, "user.updated", before, actor)

    def activate(self, user: Ref, *, actor: str | None = None) -> User:
        """Let the user log in and hold permissions again."""
        return self._set_active(user, True, actor)

    def deactivate(self, user: Ref, *, actor: str | None = None) -> User:
        """Stop the user: every check denies until reactivated; roles are kept."""
        return self._set_active(user, False, actor)

    def set_password(
        self,
        user: Ref,
        password: str,
        *,
        must_change: bool = False,
        actor: str | None = None,
    ) -> User:
        """Replace the user's password (an administrator's reset: no current password needed,
        every session of the user ends). With ``must_change``, the next login must change it."""
        with self._ctx.db.reading() as session:
            row = require_user(session, user)
            username, email = row.username, row.email
            slugs = tenant_slugs_of(session, row.id)
        password_hash = self._hash(password, username=username, email=email, slugs=slugs)
        with self._ctx.transaction() as tx:
            row = require_user(tx, user)
            row.password_hash = password_hash
            row.must_change_password = must_change
            row.updated_at = row.password_changed_at = self._ctx.now()
            ended = end_sessions(
                self._ctx,
                tx,
                SessionRecord.user_id == row.id,
                reason="password_reset",
                actor=actor,
            )
            self._ctx.audit(
                tx,
                "user.password_set",
                "user",
                row.id,
                tenant_id=None,
                actor=actor,
                details={"must_change": must_change, "sessions_ended": len(ended)},
            )
            return user_entity(row, revision=self._ctx.bump(tx, *ended))

    def clear_password(self, user: Ref, *, actor: str | None = None) -> User:
        """Remove the password: the account can no longer log in with one."""
        with self._ctx.transaction() as tx:
            row = require_user(tx, user)
            row.password_hash = None
            row.must_change_password = False
            row.updated_at = self._ctx.now()
            self._ctx.audit(
                tx, "user.password_cleared", "user", row.id, tenant_id=None, actor=actor
            )
            return user_entity(row, revision=self._ctx.bump(tx))

    def delete(self, user: Ref, *, actor: str | None = None) -> int:
        """Delete the user with their memberships and role assignments; return the revision."""
        with self._ctx.transaction() as tx:
            row = require_user(tx, user)
            tenants = tx.scalars(
                select(TenantRecord.slug)
                .join(MembershipRecord, MembershipRecord.tenant_id == TenantRecord.id)
                .where(MembershipRecord.user_id == row.id)
            ).all()
            before = _profile(row)
            ended = end_sessions(
                self._ctx, tx, SessionRecord.user_id == row.id, reason="user_deleted", audit=False
            )
            tx.delete(row)
            tx.flush()
            self._ctx.audit(
                tx,
                "user.deleted",
                "user",
                row.id,
                tenant_id=None,
                actor=actor,
                details={"before": before, "memberships": sorted(tenants)},
            )
            return self._ctx.bump(tx, Change.user(row.id), *ended)

    def _set_active(self, user: Ref, is_active: bool, actor: str | None) -> User:
        with self._ctx.transaction() as tx:
            row = require_user(tx, user)
            before = _profile(row)
            row.is_active = is_active
            ended: list[Change] = []
            if not is_active:  # a deactivated user's tokens stop working on the next request
                ended = end_sessions(
                    self._ctx,
                    tx,
                    SessionRecord.user_id == row.id,
                    reason="user_deactivated",
                    actor=actor,
                )
            action = "user.activated" if is_active else "user.deactivated"
            return self._save(tx, row, action, before, actor, *ended)

    def _save(
        self,
        tx: Session,
        row: UserRecord,
        action: str,
        before: dict[str, Any],
        actor: str | None,
        *ended: Change,
    ) -> User:
        row.updated_at = self._ctx.now()
        tx.flush()
        self._ctx.audit(
            tx,
            action,
            "user",
            row.id,
            tenant_id=None,
            actor=actor,
            details={"before": before, "after": _profile(row)},
        )
        return user_entity(row, revision=self._ctx.bump(tx, Change.user(row.id), *ended))

    def _hash(
        self, password: str, *, username: str, email: str | None, slugs: tuple[str, ...] = ()
    ) -> str:
        checked = self._policy.check(password, username=username, email=email, tenant_slugs=slugs)
        return self._hasher.hash(checked)

    @staticmethod
    def _assert_unique(tx: Session, row: UserRecord) -> None:
        others = select(UserRecord.id)
        if row.id is not None:
            others = others.where(UserRecord.id != row.id)
        with tx.no_autoflush:  # compare before the changed row is written
            if tx.scalar(others.where(UserRecord.username_key == row.username_key)):
                raise UserExists(row.username)
            if row.email_key and tx.scalar(others.where(UserRecord.email_key == row.email_key)):
                raise UserExists(row.email or "")
