"""``/v1/tenants/{tenant}/...``: a tenant's members, their accounts, sessions and logins.

Users are global identities that join tenants; seen from a tenant, only its members exist: any
other user, like a missing one, is the same 404 ``user_not_found``. Creating a user here makes
an account *and* a membership; deleting one ends only the membership (the account stays, for
the other tenants it may belong to). ``POST .../members`` adds an existing account, or invites
one that belongs to other tenants (it joins when it accepts: ``/v1/auth/invitations``).

Accounts carry an ``ETag``; send it back as ``If-Match`` on PATCH or DELETE to change only the
version you read (412 ``precondition_failed`` otherwise: no lost updates).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from rolegate.api.deps import Caller, RolegateDep, requires
from rolegate.api.schemas.common import Cursor, Limit, SortOrder, name_rule, stated
from rolegate.api.schemas.users import (
    InvitationRead,
    LockoutRead,
    MemberAdd,
    MembershipRead,
    PageOfLoginAttempts,
    PageOfSessions,
    PageOfUsers,
    UserCreate,
    UserRead,
    UserUpdate,
)
from rolegate.builtins import SESSIONS_READ, SESSIONS_REVOKE, USERS_READ, USERS_WRITE
from rolegate.entities import Invitation, User
from rolegate.etags import entity_tag
from rolegate.names import MAX_EMAIL_LENGTH, ROLE_NAME_PATTERN, USERNAME_PATTERN, or_uuid
from rolegate.pages import DEFAULT_PAGE_SIZE

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["users"])

CanReadUsers = Annotated[Caller, Depends(requires(USERS_READ))]
CanWriteUsers = Annotated[Caller, Depends(requires(USERS_WRITE))]
CanReadSessions = Annotated[Caller, Depends(requires(SESSIONS_READ))]
CanRevokeSessions = Annotated[Caller, Depends(requires(SESSIONS_REVOKE))]

_USER_REF = name_rule(USERNAME_PATTERN)  # a UUID is a valid username too
UserPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_EMAIL_LENGTH,
        description="username or id",
        json_schema_extra=_USER_REF,
    ),
]
UserFilter = Annotated[
    Annotated[str, stated(USERNAME_PATTERN)] | None,
    Query(min_length=1, max_length=MAX_EMAIL_LENGTH, description="username or id"),
]
IfMatch = Annotated[
    str | None,
    Header(max_length=1024, description="the ETag read: change only that version (else 412)"),
]


def _tagged(response: Response, user: User) -> UserRead:
    response.headers["ETag"] = entity_tag(user)
    return UserRead.of(user)


@router.get("/users")
def list_users(
    caller: CanReadUsers,
    rolegate: RolegateDep,
    username_prefix: Annotated[str | None, Query(max_length=MAX_EMAIL_LENGTH)] = None,
    active: bool | None = None,
    role: Annotated[
        Annotated[str, stated(or_uuid(ROLE_NAME_PATTERN))] | None,
        Query(max_length=200, description="only members holding this role directly"),
    ] = None,
    sort: Literal["username", "created_at"] = "username",
    order: SortOrder = "asc",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PageOfUsers:
    """One page of the tenant's members, filtered; follow `next_cursor` for the next."""
    page = rolegate.users.page(
        caller.tenant_id,
        username_prefix=username_prefix,
        active=active,
        role=role,
        sort=sort,
        descending=order == "desc",
        cursor=cursor,
        limit=limit,
    )
    return PageOfUsers.of(page)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, response: Response, caller: CanWriteUsers, rolegate: RolegateDep
) -> UserRead:
    """Create an account and make it a member; an existing username is 409 `user_exists`
    (to add an existing account, `POST .../members`)."""
    user = rolegate.users.create(
        body.username,
        email=body.email,
        full_name=body.full_name,
        password=body.password_text,
        must_change_password=body.must_change_password,
        tenant=caller.tenant_id,
        actor=caller.actor,
    )
    response.headers["Location"] = f"/v1/tenants/{caller.tenant_id}/users/{user.id}"
    return _tagged(response, user)


@router.get("/users/{user}")
def get_user(
    user: UserPath, response: Response, caller: CanReadUsers, rolegate: RolegateDep
) -> UserRead:
    """A member's account, with its `ETag`."""
    return _tagged(response, rolegate.users.get(user, tenant=caller.tenant_id))


@router.patch("/users/{user}")
def update_user(
    user: UserPath,
    body: UserUpdate,
    response: Response,
    caller: CanWriteUsers,
    rolegate: RolegateDep,
    if_match: IfMatch = None,
) -> UserRead:
    """Change a member's account. An account that also belongs to another tenant is changed
    only by a platform administrator (403 otherwise), so no tenant takes over another's user;
    its credentials only by a caller holding every permission it holds (403
    `account_change_denied`)."""
    changed = rolegate.users.update(
        user,
        username=body.username,
        email=body.email_change,
        full_name=body.full_name,
        preferences=body.preferences,
        is_active=body.is_active,
        password=body.password_text,
        clear_password=body.clears_password,
        must_change_password=body.must_change_password,
        tenant=caller.tenant_id,
        caller=caller.principal,
        if_match=if_match,
        actor=caller.actor,
    )
    return _tagged(response, changed)


@router.delete("/users/{user}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user(
    user: UserPath, caller: CanWriteUsers, rolegate: RolegateDep, if_match: IfMatch = None
) -> None:
    """End the user's membership: their roles and sessions here go with it; the account stays.
    Needs every permission the member holds here (403 `account_change_denied`)."""
    rolegate.users.remove_member(
        caller.tenant_id, user, if_match=if_match, caller=caller.principal, actor=caller.actor
    )


@router.post(
    "/members",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_202_ACCEPTED: {
            "model": InvitationRead,
            "description": "the account belongs to other tenants: invited, not yet a member",
        }
    },
)
def add_member(
    body: MemberAdd, response: Response, caller: CanWriteUsers, rolegate: RolegateDep
) -> MembershipRead | InvitationRead:
    """Make an existing account (by username or id) a member (201); 409 `membership_exists`
    if it is one already. An account that belongs to other tenants joins only by accepting
    an invitation (202 with it), unless a platform admin adds it. Remove a member with
    `DELETE .../users/{user}`."""
    added = rolegate.memberships.add(
        caller.tenant_id, body.user, actor=caller.actor, caller=caller.principal
    )
    if isinstance(added, Invitation):
        response.status_code = status.HTTP_202_ACCEPTED
        return InvitationRead.of(added)
    response.headers["Location"] = f"/v1/tenants/{caller.tenant_id}/users/{added.user_id}"
    return MembershipRead.of(added)


@router.get("/invitations")
def list_invitations(caller: CanReadUsers, rolegate: RolegateDep) -> list[InvitationRead]:
    """The invitations the tenant sent that can still be accepted, oldest first."""
    return [InvitationRead.of(sent) for sent in rolegate.invitations.list(caller.tenant_id)]


@router.delete("/invitations/{invitation}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_invitation(invitation: UUID, caller: CanWriteUsers, rolegate: RolegateDep) -> None:
    """Withdraw an invitation; one of another tenant is the same 404 as a missing one."""
    rolegate.invitations.revoke(caller.tenant_id, invitation, actor=caller.actor)


@router.post("/users/{user}/unlock")
def unlock_user(user: UserPath, caller: CanRevokeSessions, rolegate: RolegateDep) -> LockoutRead:
    """Clear a member's failed logins and any lockout in this tenant."""
    lockout = rolegate.auth.unlock_member(user, tenant=caller.tenant_id, actor=caller.actor)
    return LockoutRead.of(lockout)


@router.get("/sessions")
def list_sessions(
    caller: CanReadSessions,
    rolegate: RolegateDep,
    user: UserFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PageOfSessions:
    """One page of the live sessions in the tenant (of one `user`, if given), newest first."""
    page = rolegate.auth.tenant_sessions(caller.tenant_id, user=user, cursor=cursor, limit=limit)
    return PageOfSessions.of(page)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(session_id: UUID, caller: CanRevokeSessions, rolegate: RolegateDep) -> None:
    """End a session in the tenant; its tokens stop working at once. A session of another
    tenant is the same 404 as a missing one."""
    rolegate.auth.revoke_tenant_session(session_id, tenant=caller.tenant_id, actor=caller.actor)


@router.get("/login-history")
def login_history(
    caller: CanReadSessions,
    rolegate: RolegateDep,
    user: UserFilter = None,
    result: Literal["success", "failure"] | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PageOfLoginAttempts:
    """One page of the login attempts in the tenant, newest first."""
    page = rolegate.auth.login_page(
        caller.tenant_id,
        user=user,
        succeeded=None if result is None else result == "success",
        cursor=cursor,
        limit=limit,
    )
    return PageOfLoginAttempts.of(page)
