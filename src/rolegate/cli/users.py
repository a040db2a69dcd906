"""``rolegate user``: accounts, their activation, password and lockouts; ``user show`` for one."""

from __future__ import annotations

from typing import Annotated

import typer

from rolegate.cli._common import (
    DEFAULT_TENANT,
    Json,
    UserRef,
    Yes,
    confirm_or_stop,
    open_rolegate,
)
from rolegate.cli._output import NOTHING, jsonable, moment, print_json, print_table, say, yes_no
from rolegate.cli._passwords import read_new_password
from rolegate.entities import Assignment, Lockout, Membership, User
from rolegate.facade import Rolegate

app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
]
# ``user lockout`` and ``user unlock`` name an account in a tenant, or a client address.
LockedUser = Annotated[
    str | None,
    typer.Argument(metavar="USER", help="Username (any case) or user id; or give --ip."),
]
LockoutTenant = Annotated[
    str, typer.Option("--tenant", metavar="TENANT", help="The tenant of the account's lockout.")
]
ClientIp = Annotated[
    str | None,
    typer.Option("--ip", metavar="ADDRESS", help="A client IP address instead of a user."),
]


@app.command("create")
def create_user(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="The new username.")],
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    full_name: Annotated[str, typer.Option("--full-name", help="Display name.")] = "",
    password_stdin: PasswordStdin = False,
    password_prompt: Annotated[
        bool, typer.Option("--password-prompt", help="Ask for the password (hidden, twice).")
    ] = False,
) -> None:
    """Create a user; without a password option the account is token-only."""
    if password_stdin and password_prompt:
        raise typer.BadParameter("use --password-stdin or --password-prompt, not both")
    password = None
    if password_stdin or password_prompt:
        password = read_new_password(from_stdin=password_stdin)
    with open_rolegate(ctx) as rg:
        user = rg.users.create(username, email=email, full_name=full_name, password=password)
    kind = "with a password" if user.has_password else "without a password (token-only)"
    say(f"created user {user.username!r} {kind}")


@app.command("list")
def list_users(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only members of this tenant.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Only active, or only inactive, users."),
    ] = None,
    as_json: Json = False,
) -> None:
    """List users by username."""
    with open_rolegate(ctx) as rg:
        users = rg.users.list(tenant=tenant, active=active)
    if as_json:
        print_json(users)
        return
    print_table(
        "Users",
        ["username", "email", "full name", "active", "password", "created"],
        [
            [
                u.username,
                u.email or NOTHING,
                u.full_name or NOTHING,
                yes_no(u.is_active),
                yes_no(u.has_password),
                moment(u.created_at),
            ]
            for u in users
        ],
    )


@app.command("show")
def show_user(ctx: typer.Context, user: UserRef, as_json: Json = False) -> None:
    """Show a user's profile, the tenants they belong to and their roles in each."""
    with open_rolegate(ctx) as rg:
        found = rg.users.get(user)
        memberships = rg.memberships.of_user(found.id)
        assignments = _assignments_by_tenant(rg, found, memberships)
    if as_json:
        print_json(_user_document(found, memberships, assignments))
        return
    _print_profile(found)
    print_table(
        "Tenants and roles",
        ["tenant", "member since", "role", "granted by", "expires"],
        _membership_rows(memberships, assignments),
    )


@app.command("deactivate")
def deactivate_user(ctx: typer.Context, user: UserRef) -> None:
    """Stop a user: every check denies until reactivated; roles are kept."""
    with open_rolegate(ctx) as rg:
        found = rg.users.deactivate(user)
    say(f"deactivated user {found.username!r}")


@app.command("activate")
def activate_user(ctx: typer.Context, user: UserRef) -> None:
    """Let a deactivated user hold permissions (and log in) again."""
    with open_rolegate(ctx) as rg:
        found = rg.users.activate(user)
    say(f"activated user {found.username!r}")


@app.command("delete")
def delete_user(ctx: typer.Context, user: UserRef, yes: Yes = False) -> None:
    """Delete a user with their memberships and role assignments."""
    with open_rolegate(ctx) as rg:
        found = rg.users.get(user)  # an unknown user fails before the question
        confirm_or_stop(
            f"Delete user {found.username!r} with their memberships and roles?", assume_yes=yes
        )
        rg.users.delete(found.id)
    say(f"deleted user {found.username!r}")


@app.command("set-password")
def set_password(ctx: typer.Context, user: UserRef, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password, typed at a hidden prompt unless --password-stdin."""
    with open_rolegate(ctx) as rg:
        found = rg.users.get(user)  # an unknown user fails before the prompt
        password = read_new_password(from_stdin=password_stdin)
        rg.users.set_password(found.id, password)
    say(f"set the password of user {found.username!r}")


@app.command("lockout")
def show_lockout(
    ctx: typer.Context,
    user: LockedUser = None,
    tenant: LockoutTenant = DEFAULT_TENANT,
    ip: ClientIp = None,
    as_json: Json = False,
) -> None:
    """Show the failed logins and any lockout of an account in a tenant, or of a client IP."""
    with open_rolegate(ctx) as rg:
        lockout = rg.auth.lockout(user, tenant=tenant, ip=ip)
    if as_json:
        print_json(lockout)
        return
    print_table(
        f"Lockout of {_locked_party(user, tenant, ip)}", ["field", "value"], _fields(lockout)
    )


@app.command("unlock")
def unlock(
    ctx: typer.Context,
    user: LockedUser = None,
    tenant: LockoutTenant = DEFAULT_TENANT,
    ip: ClientIp = None,
) -> None:
    """Clear the failed logins and any lockout, hard ones included, of an account or client."""
    with open_rolegate(ctx) as rg:
        rg.auth.unlock(user, tenant=tenant, ip=ip)  # audited as the CLI's actor
    say(f"unlocked {_locked_party(user, tenant, ip)}")


def _locked_party(user: str | None, tenant: str, ip: str | None) -> str:
    return f"client {ip}" if ip is not None else f"user {user!r} in tenant {tenant!r}"


def _fields(lockout: Lockout) -> list[list[str]]:
    until = "until unlocked" if lockout.hard_locked else moment(lockout.locked_until)
    return [
        ["locked", yes_no(lockout.is_locked)],
        ["locked until", until],
        ["failures", str(lockout.failures)],
        ["consecutive failures", str(lockout.consecutive)],
        ["last failure", moment(lockout.last_failure_at)],
    ]


def _assignments_by_tenant(
    rg: Rolegate, user: User, memberships: list[Membership]
) -> dict[str, list[Assignment]]:
    return {m.tenant: rg.assignments.list(m.tenant, user=user.id) for m in memberships}


def _user_document(
    user: User, memberships: list[Membership], assignments: dict[str, list[Assignment]]
) -> dict[str, object]:
    tenants = [
        {
            "tenant": m.tenant,
            "joined_at": m.joined_at,
            "roles": [
                {
                    "role": a.role,
                    "granted_at": a.granted_at,
                    "granted_by": a.granted_by,
                    "expires_at": a.expires_at,
                }
                for a in assignments[m.tenant]
            ],
        }
        for m in memberships
    ]
    return {**jsonable(user), "tenants": tenants}


def _print_profile(user: User) -> None:
    print_table(
        f"User {user.username}",
        ["field", "value"],
        [
            ["id", str(user.id)],
            ["email", user.email or NOTHING],
            ["full name", user.full_name or NOTHING],
            ["active", yes_no(user.is_active)],
            ["password", "set" if user.has_password else "none (token-only)"],
            ["created", moment(user.created_at)],
            ["last login", moment(user.last_login_at)],
        ],
    )


def _membership_rows(
    memberships: list[Membership], assignments: dict[str, list[Assignment]]
) -> list[list[str]]:
    rows: list[list[str]] = []
    for m in memberships:
        held = assignments[m.tenant]
        if not held:
            rows.append([m.tenant, moment(m.joined_at), NOTHING, NOTHING, NOTHING])
        for a in held:
            rows.append([m.tenant, moment(m.joined_at), a.role, a.granted_by, moment(a.expires_at)])
    return rows
