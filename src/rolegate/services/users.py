"""Users: global accounts, their profile, activation and password."""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session

from rolegate.authn.passwords import PasswordHasher, PasswordPolicy
from rolegate.authz.changes import Change
from rolegate.builtins import PLATFORM_TENANT_ID, PLATFORM_TENANT_SLUG, USERS_WRITE
from rolegate.db.lookup import find_role
from rolegate.db.models import (
    MembershipRecord,
    SessionRecord,
    TenantRecord,
    UserRecord,
    UserRoleRecord,
)
from rolegate.entities import Principal, User
from rolegate.errors import (
    ConcurrentChange,
    Forbidden,
    InvalidInput,
    LoginNameTaken,
    UserExists,
    UserNotFound,
)
from rolegate.etags import require_match
from rolegate.limits import MAX_FULL_NAME
from rolegate.names import email_key, email_keys, parse_email, parse_username, username_key
from rolegate.pages import DEFAULT_PAGE_SIZE, Page, UserSort
from rolegate.services._context import ServiceContext, require_tenant, require_user
from rolegate.services._sessions import end_sessions
from rolegate.services.access import audit_refusals, is_member_elsewhere, refuse_account_change
from rolegate.services.memberships import join_tenant, leave_tenant, require_member
from rolegate.services.pages import order_by, page_of, paged, sort_key, starts_with
from rolegate.types import UNSET, Ref, Unset, UserId

#: The keyset of each sort: its columns end with a unique one, so the order is total.
_SORTS: Final = {
    "username": (UserRecord.username_key,),
    "created_at": (UserRecord.created_at, UserRecord.id),
}


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


def _members(
    session: Session,
    tenant: TenantRecord,
    *,
    username_prefix: str | None,
    active: bool | None,
    role: Ref | None,
    now: datetime,
) -> Select[UserRecord]:
    """The members of ``tenant``, filtered: usernames starting with ``username_prefix`` (case
    insensitive), by activity, and holding ``role`` (by name or id) directly and unexpired."""
    query = select(UserRecord).join(
        MembershipRecord,
        (MembershipRecord.user_id == UserRecord.id) & (MembershipRecord.tenant_id == tenant.id),
    )
    if username_prefix:
        if "\x00" in username_prefix:
            raise InvalidInput("a username prefix cannot contain NUL")
        query = query.where(starts_with(UserRecord.username_key, username_key(username_prefix)))
    if active is not None:
        query = query.where(UserRecord.is_active == active)
    if role is not None:
        found = find_role(session, tenant.id, role)
        if found is None:
            return query.where(false())  # nobody holds a role that does not exist
        holds = select(UserRoleRecord.user_id).where(
            UserRoleRecord.user_id == UserRecord.id,
            UserRoleRecord.role_id == found.id,
            or_(UserRoleRecord.expires_at.is_(None), UserRoleRecord.expires_at > now),
        )
        query = query.where(holds.exists())
    return query


def _refuse_shared_account(tx: Session, caller: Principal | None, row: UserRecord) -> None:
    """:class:`Forbidden` unless ``caller`` may change ``row``'s account: a caller acting for one
    tenant changes only accounts that belong to that tenant alone. A user of several tenants is
    changed by a platform admin or by the user, so no tenant takes over another's member."""
    if caller is None or caller.tenant_id == PLATFORM_TENANT_ID:
        return
    is_member_here = tx.get(MembershipRecord, (caller.tenant_id, row.id)) is not None
    if not is_member_here or is_member_elsewhere(tx, row.id, caller.tenant_id):
        raise Forbidden(USERS_WRITE, tenant=PLATFORM_TENANT_SLUG)


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
        tenant: Ref | None = None,
        actor: str | None = None,
    ) -> User:
        """Create a user; without ``password`` the account cannot log in with one. With
        ``must_change_password``, the first login must choose a new one. With ``tenant``, the
        user joins it in the same transaction."""
        name = parse_username(username)
        mail = parse_email(email) if email is not None else None
        password_hash = None
        if password is not None:
            slugs = (self.tenant_slug(tenant),) if tenant is not None else ()
            password_hash = self._hash(password, username=name, email=mail, slugs=slugs)
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
        try:
            return self._insert(row, tenant, actor)
        except ConcurrentChange:
            # The same name committed by another transaction since our check: say so.
            with self._ctx.db.reading() as session:
                taken = session.scalar(
                    select(UserRecord.id).where(UserRecord.username_key == row.username_key)
                )
            if taken is not None:
                raise UserExists(name) from None
            raise

    def _insert(self, row: UserRecord, tenant: Ref | None, actor: str | None) -> User:
        with self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant) if tenant is not None else None
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
                details={"after": _profile(row), "has_password": row.password_hash is not None},
            )
            changes = [Change.user(row.id)]
            if tenant_row is not None:
                join_tenant(self._ctx, tx, tenant_row, row, actor=actor)
                changes.append(Change.member(tenant_row.id, row.id))
            revision = self._ctx.bump(tx, *changes)
        return user_entity(row, revision=revision)

    def tenant_slug(self, tenant: Ref) -> str:
        """The slug of ``tenant`` (:class:`TenantNotFound` if there is none)."""
        with self._ctx.db.reading() as session:
            return require_tenant(session, tenant).slug

    def get(self, user: Ref, *, tenant: Ref | None = None) -> User:
        """The user with this username (case-insensitive), or id. With ``tenant``, only a
        member of it: any other user is :class:`UserNotFound`, as a missing one is."""
        with self._ctx.db.reading() as session:
            if tenant is None:
                return user_entity(require_user(session, user))
            return user_entity(require_member(session, require_tenant(session, tenant), user))

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

    def page(
        self,
        tenant: Ref,
        *,
        username_prefix: str | None = None,
        active: bool | None = None,
        role: Ref | None = None,
        sort: UserSort = "username",
        descending: bool = False,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[User]:
        """One page of ``tenant``'s members, filtered (see :func:`_members`) and sorted by
        ``sort``; pass the page's ``next_cursor`` (same filters and sort) for the next one."""
        order = order_by(_SORTS, sort, descending=descending, what="users")
        with self._ctx.db.reading() as session:
            query = _members(
                session,
                require_tenant(session, tenant),
                username_prefix=username_prefix,
                active=active,
                role=role,
                now=self._ctx.now(),
            )
            rows = session.scalars(paged(query, order, cursor=cursor, limit=limit)).all()
            return page_of(
                rows,
                limit=limit,
                key=sort_key(order),
                entity=user_entity,
            )

    def update(
        self,
        user: Ref,
        *,
        username: str | None = None,
        email: str | None | Unset = UNSET,
        full_name: str | None = None,
        preferences: dict[str, Any] | None = None,
        is_active: bool | None = None,
        password: str | None = None,
        clear_password: bool = False,
        must_change_password: bool | None = None,
        tenant: Ref | None = None,
        caller: Principal | None = None,
        if_match: str | None = None,
        actor: str | None = None,
    ) -> User:
        """Change profile fields (``email=None`` removes the email address), and with
        ``is_active``, ``password`` or ``clear_password`` what :meth:`deactivate`,
        :meth:`set_password` and :meth:`clear_password` do, all in one transaction.

        With ``tenant``, the user must be a member of it (else :class:`UserNotFound`); with
        ``if_match``, still have that entity tag (else :class:`PreconditionFailed`), compared
        on the row locked for the change, so of two writers holding one tag only the first
        wins. With ``caller``, see :func:`_refuse_shared_account`, and a change of credentials
        (anything but the full name and preferences) obeys the bind rule
        (:func:`.access.refuse_account_change`).
        """
        if password is not None and clear_password:
            raise InvalidInput("set a password or clear it, not both")
        credentials = (username, password, is_active, must_change_password)
        binds = (
            any(v is not None for v in credentials)
            or clear_password
            or not isinstance(email, Unset)
        )
        with audit_refusals(self._ctx, caller, "user.update"):
            password_hash = None
            if password is not None:
                password_hash = self._hash_for(
                    user, password, username=username, email=email, tenant=tenant, caller=caller
                )
            profile = {"username": username, "full_name": full_name, "preferences": preferences}
            if not isinstance(email, Unset):
                profile["email"] = email
            with self._ctx.transaction() as tx:
                row = self._locked(tx, user, tenant)
                require_match(if_match, user_entity(row))
                self._refuse_change(tx, caller, row, tenant=tenant, binds=binds)
                return self._apply(
                    tx,
                    row,
                    profile,
                    is_active=is_active,
                    password_hash=password_hash,
                    clear_password=clear_password,
                    must_change_password=must_change_password,
                    actor=actor,
                )

    def _apply(
        self,
        tx: Session,
        row: UserRecord,
        profile: dict[str, Any],
        *,
        is_active: bool | None,
        password_hash: str | None,
        clear_password: bool,
        must_change_password: bool | None,
        actor: str | None,
    ) -> User:
        """The writes of :meth:`update`, audited, with one revision for all of them."""
        changes: builtins.list[Change] = []
        if any(value is not None for value in profile.values()) or "email" in profile:
            changes += self._change_profile(tx, row, profile, actor)
        if is_active is not None and is_active != row.is_active:
            changes += self._switch_active(tx, row, is_active, actor)
        if password_hash is not None:
            must_change = bool(must_change_password)
            changes += self._replace_password(tx, row, password_hash, must_change, actor)
        elif clear_password:
            changes += self._remove_password(tx, row, actor)
        elif must_change_password is not None:
            changes += self._require_change(tx, row, must_change_password, actor)
        if not changes:  # nothing asked: nothing written, no new revision
            return user_entity(row, revision=self._ctx.current_revision(tx))
        return user_entity(row, revision=self._ctx.bump(tx, *changes))

    def remove_member(
        self,
        tenant: Ref,
        user: Ref,
        *,
        if_match: str | None = None,
        caller: Principal | None = None,
        actor: str | None = None,
    ) -> int:
        """End ``user``'s membership of ``tenant`` (the account stays); seen from inside the
        tenant, so a user who is not a member is :class:`UserNotFound`, and with ``if_match``
        the user must still have that entity tag. Their roles there go with it, so a ``caller``
        needs every permission they hold there, as for taking each role away. Returns the
        revision."""
        with audit_refusals(self._ctx, caller, "membership.remove"), self._ctx.transaction() as tx:
            tenant_row = require_tenant(tx, tenant)
            row = require_member(tx, tenant_row, user, lock=True)
            require_match(if_match, user_entity(row))
            refuse_account_change(
                self._ctx, tx, caller, row, only_in=tenant_row, acting_in=tenant_row.id
            )
            membership = tx.get_one(MembershipRecord, (tenant_row.id, row.id))
            return leave_tenant(self._ctx, tx, membership, tenant_row, row, actor=actor)

    def activate(
        self, user: Ref, *, caller: Principal | None = None, actor: str | None = None
    ) -> User:
        """Let the user log in and hold permissions again (a ``caller`` obeys the bind rule)."""
        return self._set_active(user, True, caller, actor)

    def deactivate(
        self, user: Ref, *, caller: Principal | None = None, actor: str | None = None
    ) -> User:
        """Stop the user: every check denies until reactivated; roles are kept. A ``caller``
        obeys the bind rule: stopping an account locks out whoever could undo one's changes."""
        return self._set_active(user, False, caller, actor)

    def set_password(
        self,
        user: Ref,
        password: str,
        *,
        must_change: bool = False,
        caller: Principal | None = None,
        actor: str | None = None,
    ) -> User:
        """Replace the user's password (an administrator's reset: no current password needed,
        every session of the user ends). With ``must_change``, the next login must change it.
        A ``caller`` obeys the bind rule (:func:`.access.refuse_account_change`)."""
        with audit_refusals(self._ctx, caller, "user.set_password"):
            password_hash = self._hash_for(user, password, caller=caller)
            with self._ctx.transaction() as tx:
                row = require_user(tx, user)
                self._refuse_change(tx, caller, row)
                ended = self._replace_password(tx, row, password_hash, must_change, actor)
                return user_entity(row, revision=self._ctx.bump(tx, *ended))

    def clear_password(
        self, user: Ref, *, caller: Principal | None = None, actor: str | None = None
    ) -> User:
        """Remove the password: the account can no longer log in with one. A ``caller`` obeys
        the bind rule."""
        with audit_refusals(self._ctx, caller, "user.clear_password"):
            with self._ctx.transaction() as tx:
                row = require_user(tx, user)
                self._refuse_change(tx, caller, row)
                changes = self._remove_password(tx, row, actor)
                return user_entity(row, revision=self._ctx.bump(tx, *changes))

    def delete(
        self,
        user: Ref,
        *,
        if_match: str | None = None,
        caller: Principal | None = None,
        actor: str | None = None,
    ) -> int:
        """Delete the user with their memberships and role assignments; return the revision.
        With ``if_match``, only if the user still has that entity tag. A ``caller`` obeys the
        bind rule in every tenant the user belongs to."""
        with audit_refusals(self._ctx, caller, "user.delete"), self._ctx.transaction() as tx:
            row = self._locked(tx, user, None)
            require_match(if_match, user_entity(row))
            self._refuse_change(tx, caller, row)
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

    def _set_active(
        self, user: Ref, is_active: bool, caller: Principal | None, actor: str | None
    ) -> User:
        action = "user.activate" if is_active else "user.deactivate"
        with audit_refusals(self._ctx, caller, action), self._ctx.transaction() as tx:
            row = require_user(tx, user)
            self._refuse_change(tx, caller, row)
            changes = self._switch_active(tx, row, is_active, actor)
            return user_entity(row, revision=self._ctx.bump(tx, *changes))

    def _refuse_change(
        self,
        tx: Session,
        caller: Principal | None,
        row: UserRecord,
        *,
        tenant: Ref | None = None,
        binds: bool = True,
    ) -> None:
        """Refuse ``caller`` a change of ``row``'s account: one shared with other tenants
        (:func:`_refuse_shared_account`), and with ``binds`` (a change of credentials), one
        that would hand over more than the caller holds (the bind rule)."""
        _refuse_shared_account(tx, caller, row)
        if binds and caller is not None:
            acting_in = require_tenant(tx, tenant).id if tenant is not None else None
            refuse_account_change(self._ctx, tx, caller, row, acting_in=acting_in)

    def _locked(self, tx: Session, user: Ref, tenant: Ref | None) -> UserRecord:
        """The user (a member of ``tenant``, if given), read afresh and locked until commit."""
        if tenant is not None:
            return require_member(tx, require_tenant(tx, tenant), user, lock=True)
        found = tx.get(
            UserRecord, require_user(tx, user).id, with_for_update=True, populate_existing=True
        )
        if found is None:  # deleted since the lookup
            raise UserNotFound(str(user))
        return found

    def _change_profile(
        self, tx: Session, row: UserRecord, profile: dict[str, Any], actor: str | None
    ) -> builtins.list[Change]:
        before = _profile(row)
        if profile.get("username") is not None:
            row.username = parse_username(profile["username"])
            row.username_key = username_key(row.username)
        if "email" in profile:
            row.email = parse_email(profile["email"]) if profile["email"] is not None else None
            row.email_key = email_key(row.email) if row.email else None
        if profile.get("full_name") is not None:
            row.full_name = _full_name(profile["full_name"])
        if profile.get("preferences") is not None:
            row.preferences = _preferences(profile["preferences"])
        self._assert_unique(tx, row)
        self._record(tx, row, "user.updated", {"before": before, "after": _profile(row)}, actor)
        return [Change.user(row.id)]

    def _switch_active(
        self, tx: Session, row: UserRecord, is_active: bool, actor: str | None
    ) -> builtins.list[Change]:
        before = _profile(row)
        row.is_active = is_active
        ended: builtins.list[Change] = []
        if not is_active:  # a deactivated user's tokens stop working on the next request
            ended = end_sessions(
                self._ctx,
                tx,
                SessionRecord.user_id == row.id,
                reason="user_deactivated",
                actor=actor,
            )
        action = "user.activated" if is_active else "user.deactivated"
        self._record(tx, row, action, {"before": before, "after": _profile(row)}, actor)
        return [Change.user(row.id), *ended]

    def _replace_password(
        self, tx: Session, row: UserRecord, password_hash: str, must_change: bool, actor: str | None
    ) -> builtins.list[Change]:
        """Store a new password hash: an administrator's reset, so every session ends."""
        row.password_hash = password_hash
        row.must_change_password = must_change
        row.password_changed_at = self._ctx.now()
        ended = end_sessions(
            self._ctx, tx, SessionRecord.user_id == row.id, reason="password_reset", actor=actor
        )
        details = {"must_change": must_change, "sessions_ended": len(ended)}
        self._record(tx, row, "user.password_set", details, actor)
        return ended

    def _remove_password(
        self, tx: Session, row: UserRecord, actor: str | None
    ) -> builtins.list[Change]:
        """Remove the password hash: the account can no longer log in with one."""
        row.password_hash = None
        row.must_change_password = False
        self._record(tx, row, "user.password_cleared", {}, actor)
        return [Change.user(row.id)]

    def _require_change(
        self, tx: Session, row: UserRecord, must_change: bool, actor: str | None
    ) -> builtins.list[Change]:
        """Make the next login choose a new password (or stop requiring it)."""
        if must_change and row.password_hash is None:
            raise InvalidInput("must_change_password needs a password to change")
        before = {"must_change_password": row.must_change_password}
        row.must_change_password = must_change
        after = {"must_change_password": must_change}
        self._record(tx, row, "user.updated", {"before": before, "after": after}, actor)
        return [Change.user(row.id)]

    def _record(
        self, tx: Session, row: UserRecord, action: str, details: dict[str, Any], actor: str | None
    ) -> None:
        """Stamp ``row`` as changed now and audit ``action`` on it."""
        row.updated_at = self._ctx.now()
        tx.flush()
        self._ctx.audit(tx, action, "user", row.id, tenant_id=None, actor=actor, details=details)

    def _hash_for(
        self,
        user: Ref,
        password: str,
        *,
        username: str | None = None,
        email: str | None | Unset = UNSET,
        tenant: Ref | None = None,
        caller: Principal | None = None,
    ) -> str:
        """The hash of ``password`` for ``user`` once renamed to ``username`` and ``email`` (if
        given), checked against the policy. Computed before the change's transaction, so no
        lock is held while argon2 works; the user is looked up as the change will (a member of
        ``tenant``, changeable by ``caller``) so that a refusal reads the same either way."""
        with self._ctx.db.reading() as session:
            if tenant is None:
                row = require_user(session, user)
            else:
                row = require_member(session, require_tenant(session, tenant), user)
            self._refuse_change(session, caller, row, tenant=tenant)
            slugs = tenant_slugs_of(session, row.id)
            name = parse_username(username) if username is not None else row.username
            mail = row.email if isinstance(email, Unset) else email
        return self._hash(password, username=name, email=mail, slugs=slugs)

    def _hash(
        self, password: str, *, username: str, email: str | None, slugs: tuple[str, ...] = ()
    ) -> str:
        checked = self._policy.check(password, username=username, email=email, tenant_slugs=slugs)
        return self._hasher.hash(checked)

    @staticmethod
    def _assert_unique(tx: Session, row: UserRecord) -> None:
        """:class:`UserExists` for a username or email another account has, and
        :class:`LoginNameTaken` for one that another account has as the other kind: login
        takes either, so each must name one account (same case folding as the keys)."""
        others = select(UserRecord.id)
        if row.id is not None:
            others = others.where(UserRecord.id != row.id)
        with tx.no_autoflush:  # compare before the changed row is written
            _lock_login_names(tx, row)
            if tx.scalar(others.where(UserRecord.username_key == row.username_key)):
                raise UserExists(row.username)
            # email_keys: rows stored before addresses were normalised may hold an older key.
            mail_keys = email_keys(row.email) if row.email else frozenset()
            if mail_keys and tx.scalar(others.where(UserRecord.email_key.in_(mail_keys))):
                raise UserExists(row.email or "")
            if tx.scalar(others.where(UserRecord.email_key.in_(email_keys(row.username)))):
                raise LoginNameTaken(row.username)
            if mail_keys and tx.scalar(others.where(UserRecord.username_key.in_(mail_keys))):
                raise LoginNameTaken(row.email or "")


def _lock_login_names(tx: Session, row: UserRecord) -> None:
    """On PostgreSQL, lock each login name ``row`` claims until commit: no unique index
    compares a username with an email, so two transactions claiming one name, as a username
    and as an email, would both pass their check; locked, the second waits and sees the first.
    (SQLite runs one writer at a time already.)"""
    if tx.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({row.username_key, *([row.email_key] if row.email_key else [])}):
        name_hash = func.hashtext(f"rolegate.login:{key}")
        tx.execute(select(func.pg_advisory_xact_lock(name_hash)))
