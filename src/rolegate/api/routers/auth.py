"""``/v1/auth``: log in, refresh, log out, the caller, its sessions, its password and its
invitations."""

from __future__ import annotations

from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response, status

from rolegate.api.deps import ClientIp, CurrentPrincipal, MetricsDep, RolegateDep, public
from rolegate.api.problems import THROTTLED_RESPONSES
from rolegate.api.schemas.auth import (
    LoginRequest,
    MeRead,
    PasswordChangeRequest,
    RefreshRequest,
    SessionRead,
    SessionsEnded,
    TokenResponse,
)
from rolegate.api.schemas.users import InvitationRead, MembershipRead
from rolegate.errors import (
    InvalidCredentials,
    InvalidInput,
    LoginThrottled,
    PasswordChangeRequired,
    RolegateError,
)

router = APIRouter(prefix="/v1/auth", tags=["auth"])

UserAgent = Annotated[str | None, Header(include_in_schema=False)]

# Token responses must never be cached (RFC 6749 §5.1).
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _no_store(response: Response) -> None:
    response.headers.update(_NO_STORE)


@router.post("/login", dependencies=[Depends(public)], responses=THROTTLED_RESPONSES)
def login(
    body: LoginRequest,
    response: Response,
    rolegate: RolegateDep,
    ip: ClientIp,
    metrics: MetricsDep,
    user_agent: UserAgent = None,
) -> TokenResponse:
    """Check the password and open a session; every kind of failure about the account is the
    same 401; too many failures from this client or in this tenant are a 429."""
    try:
        pair = rolegate.auth.login(
            body.username,
            body.password.get_secret_value(),
            tenant=body.tenant,
            ip=ip,
            user_agent=user_agent,
            new_password=body.new_password.get_secret_value() if body.new_password else None,
        )
    except RolegateError as exc:
        metrics.logins.labels(_login_result(exc)).inc()
        raise
    metrics.logins.labels("success").inc()
    _no_store(response)
    return TokenResponse.of(pair)


@router.post("/refresh", dependencies=[Depends(public)])
def refresh(
    body: RefreshRequest,
    response: Response,
    rolegate: RolegateDep,
    ip: ClientIp,
    user_agent: UserAgent = None,
) -> TokenResponse:
    """Rotate the refresh token; a token used twice ends its session (`refresh_token_reused`)."""
    pair = rolegate.auth.refresh(body.refresh_token, ip=ip, user_agent=user_agent)
    _no_store(response)
    return TokenResponse.of(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: CurrentPrincipal, rolegate: RolegateDep) -> None:
    """End the caller's session: its tokens stop working at once."""
    rolegate.auth.logout(principal)


@router.get("/me")
def me(principal: CurrentPrincipal, rolegate: RolegateDep) -> MeRead:
    """The caller, with the roles and permissions held in the session's tenant now."""
    user_id, tenant_id = principal.user_id, principal.tenant_id
    return MeRead.of(
        rolegate.users.get(user_id),
        rolegate.tenants.get(tenant_id),
        session_id=principal.session_id,
        roles=sorted({held.name for held in rolegate.roles_of(user_id, tenant=tenant_id)}),
        permissions=list(rolegate.permissions_of(user_id, tenant=tenant_id)),
    )


@router.get("/sessions")
def sessions(principal: CurrentPrincipal, rolegate: RolegateDep) -> list[SessionRead]:
    """The caller's live sessions in every tenant, newest first; `current` marks this one."""
    return [
        SessionRead.of(session, current_id=principal.session_id)
        for session in rolegate.auth.sessions(principal.user_id)
    ]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(session_id: UUID, principal: CurrentPrincipal, rolegate: RolegateDep) -> None:
    """End one of the caller's own live sessions. Any other id, someone else's or none at all,
    is the same 404, so session ids cannot be probed."""
    rolegate.auth.revoke_session(
        session_id, owner=principal.user_id, reason="logout", actor=str(principal.user_id)
    )


@router.delete("/sessions")
def end_other_sessions(
    principal: CurrentPrincipal,
    rolegate: RolegateDep,
    others: Annotated[bool, Query(description="must be true: end every session but this")] = False,
) -> SessionsEnded:
    """Log out every other device: end all the caller's sessions but the current one."""
    if not others:
        raise InvalidInput("pass others=true; to end this session too, POST /v1/auth/logout")
    ended = rolegate.auth.revoke_all(
        principal.user_id,
        except_session=principal.session_id,
        reason="logout_others",
        actor=str(principal.user_id),
    )
    return SessionsEnded(ended=ended)


@router.get("/invitations")
def invitations(principal: CurrentPrincipal, rolegate: RolegateDep) -> list[InvitationRead]:
    """The invitations into other tenants the caller may still accept, oldest first."""
    pending = rolegate.invitations.list_for_user(principal.user_id)
    return [InvitationRead.of(invitation) for invitation in pending]


@router.post("/invitations/{invitation}/accept")
def accept_invitation(
    invitation: UUID, principal: CurrentPrincipal, rolegate: RolegateDep
) -> MembershipRead:
    """Join the inviting tenant (log in there to act in it); 409 `invitation_expired` once
    its time is up. Someone else's invitation is the same 404 as a missing one."""
    joined = rolegate.invitations.accept(invitation, user=principal.user_id)
    return MembershipRead.of(joined)


@router.post("/invitations/{invitation}/decline", status_code=status.HTTP_204_NO_CONTENT)
def decline_invitation(
    invitation: UUID, principal: CurrentPrincipal, rolegate: RolegateDep
) -> None:
    """Refuse an invitation: it is deleted. Someone else's is the same 404 as a missing one."""
    rolegate.invitations.decline(invitation, user=principal.user_id)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses=THROTTLED_RESPONSES)
def change_password(
    body: PasswordChangeRequest,
    principal: CurrentPrincipal,
    rolegate: RolegateDep,
    ip: ClientIp,
    user_agent: UserAgent = None,
) -> None:
    """Replace the caller's password; this session lives on, every other one ends."""
    rolegate.auth.change_password(
        principal.user_id,
        body.current_password.get_secret_value(),
        body.new_password.get_secret_value(),
        tenant=principal.tenant_id,
        ip=ip,
        user_agent=user_agent,
        keep_session=principal.session_id,
    )


def _login_result(exc: RolegateError) -> str:
    """The ``result`` label of a refused login (a small fixed set, never the reason)."""
    if isinstance(exc, PasswordChangeRequired):
        return "password_change_required"
    if isinstance(exc, LoginThrottled):
        return "throttled"
    if isinstance(exc, InvalidCredentials):
        return "invalid_credentials"
    return "error"
