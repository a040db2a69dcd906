"""``rolegate login``, ``sessions``, ``keys`` and ``login-history``: authentication at the shell.

Passwords come from a hidden prompt or ``--password-stdin``, never from argv (see
``_passwords``). A refused login exits with 1, like every other negative answer.
"""

from __future__ import annotations

from typing import Annotated, Final

import typer

from rolegate.cli._common import DEFAULT_TENANT, Json, open_rolegate
from rolegate.cli._errors import exit_code_of, fail
from rolegate.cli._output import NOTHING, moment, print_json, print_table, say, visible, yes_no
from rolegate.cli._passwords import password_from_stdin, read_new_password
from rolegate.entities import LoginAttempt, Session, SigningKey, TokenPair
from rolegate.errors import PasswordChangeRequired

#: Key purposes, as ``SigningKey.purpose`` reads (``db.models``, which the CLI does not import).
TOKEN_PURPOSE: Final = "access"
AUDIT_SEAL_PURPOSE: Final = "audit_seal"
#: The User-Agent of CLI logins: their sessions read "rolegate-cli" in every device column.
CLI_USER_AGENT: Final = "rolegate-cli"
#: The tenant every database has, which the services default to (``DEFAULT_TENANT_SLUG``, in
#: ``db.models``, which the CLI does not import outside ``rolegate db``).

sessions_app = typer.Typer(help="Inspect and end login sessions.", no_args_is_help=True)
keys_app = typer.Typer(
    help="List and rotate the signing keys: token keys and the audit seal key.",
    no_args_is_help=True,
)

LoginTenant = Annotated[
    str, typer.Option("--tenant", metavar="TENANT", help="Tenant slug (or id) to log in to.")
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin (and a new one from the second).",
    ),
]
ChangePassword = Annotated[
    bool,
    typer.Option(
        "--change-password",
        help="Also read a new password and change to it (required when an admin set the password).",
    ),
]
SessionUser = Annotated[
    str, typer.Option("--user", metavar="USER", help="Username (any case) or user id.")
]
OnlyTenant = Annotated[
    str | None, typer.Option("--tenant", metavar="TENANT", help="Only this tenant.")
]


def login(
    ctx: typer.Context,
    login_name: Annotated[
        str, typer.Argument(metavar="USERNAME_OR_EMAIL", help="Username or email address.")
    ],
    tenant: LoginTenant = DEFAULT_TENANT,
    password_stdin: PasswordStdin = False,
    change_password: ChangePassword = False,
) -> None:
    """Log in and print the token response as JSON; a refused login exits with 1."""
    password = password_from_stdin() if password_stdin else _password_from_prompt()
    new_password = read_new_password(from_stdin=password_stdin) if change_password else None
    with open_rolegate(ctx) as rg:
        try:
            pair = rg.auth.login(
                login_name,
                password,
                tenant=tenant,
                user_agent=CLI_USER_AGENT,
                new_password=new_password,
            )
        except PasswordChangeRequired as exc:
            fail(f"{exc}: run again with --change-password", exit_code=exit_code_of(exc))
    print_json(token_response(pair))


def token_response(pair: TokenPair) -> dict[str, object]:
    """An OAuth 2.0 token response (RFC 6749 §5.1) with the session it opened."""
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
        "access_expires_at": pair.access_expires_at,
        "session_id": pair.session.id,
        "tenant": pair.session.tenant,
    }


def _password_from_prompt() -> str:
    """The current password, typed once at a hidden prompt on stderr (stdout is for JSON)."""
    try:
        answer = typer.prompt("Password", hide_input=True, err=True)
    except typer.Abort:
        fail("no password given: type it at the prompt or pass --password-stdin")
    return str(answer)


@sessions_app.command("list")
def list_sessions(
    ctx: typer.Context,
    user: SessionUser,
    tenant: OnlyTenant = None,
    include_ended: Annotated[
        bool, typer.Option("--all", help="Include sessions that have ended.")
    ] = False,
    as_json: Json = False,
) -> None:
    """List a user's live sessions, newest first."""
    with open_rolegate(ctx) as rg:
        found = rg.users.get(user)
        sessions = rg.auth.sessions(found.id, tenant=tenant, include_ended=include_ended)
    if as_json:
        print_json(sessions)
        return
    print_table(
        f"Sessions of {found.username}",
        ["id", "user", "tenant", "device", "created", "last used", "last IP", "state"],
        [
            [
                str(s.id),
                found.username,
                s.tenant,
                visible(s.device),
                moment(s.created_at),
                moment(s.last_used_at),
                s.last_ip or NOTHING,
                _state(s),
            ]
            for s in sessions
        ],
    )


def _state(session: Session) -> str:
    if session.revoked_at is not None:
        return f"ended: {visible(session.revoked_reason or 'revoked')}"
    return "active" if session.is_active else "expired"


@sessions_app.command("revoke")
def revoke_sessions(
    ctx: typer.Context,
    session_id: Annotated[
        str | None,
        typer.Argument(metavar="SESSION_ID", help="The session to end (see `sessions list`)."),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="End every session of this user.")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", metavar="TENANT", help="With --user: only in this tenant."),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for the audit trail (1-40 characters).")
    ] = "revoked",
) -> None:
    """End one session, or with --user every live session of a user; print how many ended."""
    if (session_id is None) == (user is None):
        raise typer.BadParameter("name either a SESSION_ID or --user")
    with open_rolegate(ctx) as rg:
        if session_id is not None:
            # A revision is committed only when the session was still live; 0 means no change.
            ended = 1 if rg.auth.revoke_session(session_id, reason=reason).revision else 0
        else:
            assert user is not None
            ended = rg.auth.revoke_all(user, tenant=tenant, reason=reason)
    say(f"ended {ended} session{'' if ended == 1 else 's'}")


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    include_expired: Annotated[
        bool, typer.Option("--all", help="Include keys that no longer verify any token.")
    ] = False,
    as_json: Json = False,
) -> None:
    """List the signing keys, newest first, with their purpose: the token keys that sign or
    still verify, and the audit seal keys."""
    with open_rolegate(ctx) as rg:
        keys = rg.keys.list(include_expired=include_expired)
    if as_json:
        print_json(keys)
        return
    print_table(
        "Signing keys",
        ["kid", "purpose", "algorithm", "created", "retired", "verify until", "signing"],
        [_key_row(k) for k in keys],
    )


def _key_row(key: SigningKey) -> list[str]:
    return [
        key.kid,
        key.purpose,
        key.algorithm,
        moment(key.created_at),
        moment(key.retired_at),
        moment(key.verify_until),
        yes_no(key.is_signing),
    ]


@keys_app.command("rotate")
def rotate_keys(
    ctx: typer.Context,
    audit_seal: Annotated[
        bool,
        typer.Option(
            "--audit-seal", help="Rotate the audit seal key (seals, prune anchors) instead."
        ),
    ] = False,
) -> None:
    """Sign new tokens with a new key; the old ones verify until their tokens expire. With
    --audit-seal, sign new seals with a new seal key; old seals still verify."""
    purpose = AUDIT_SEAL_PURPOSE if audit_seal else TOKEN_PURPOSE
    with open_rolegate(ctx) as rg:
        key = rg.keys.rotate(purpose=purpose)  # audited as the CLI's actor, like every change
    kind = "audit seal key" if audit_seal else "signing key"
    say(f"new {kind} {key.kid} ({key.algorithm})")


def login_history(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", metavar="USER", help="Only this user's attempts.")
    ] = None,
    tenant: OnlyTenant = None,
    limit: Annotated[int, typer.Option("--limit", help="Most attempts shown (1-1000).")] = 50,
    as_json: Json = False,
) -> None:
    """List login attempts, newest first, with why each failed."""
    with open_rolegate(ctx) as rg:
        attempts = rg.auth.login_history(user=user, tenant=tenant, limit=limit)
    if as_json:
        print_json(attempts)
        return
    print_table(
        "Login attempts",
        ["time", "username", "tenant", "result", "reason", "IP", "user agent"],
        [_attempt_row(a) for a in attempts],
    )


def _attempt_row(attempt: LoginAttempt) -> list[str]:
    return [
        moment(attempt.occurred_at),
        visible(attempt.username) or NOTHING,
        visible(attempt.tenant) or NOTHING,
        "ok" if attempt.succeeded else "failed",
        attempt.reason or NOTHING,
        attempt.ip or NOTHING,
        visible(attempt.user_agent) or NOTHING,
    ]
