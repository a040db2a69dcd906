"""``rolegate assign``, ``unassign`` and ``assignment list``: who holds which role, until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from rolegate.cli._common import Json, RoleName, TenantSlug, UserRef, open_rolegate
from rolegate.cli._output import moment, print_json, print_table, say
from rolegate.durations import InvalidDuration, parse_until
from rolegate.entities import Assignment

app = typer.Typer(help="Inspect role assignments.", no_args_is_help=True)


def parse_expiry(text: str) -> datetime | timedelta:
    """When an assignment ends: a timestamp, or a duration from now (:mod:`rolegate.durations`)."""
    try:
        return parse_until(text)
    except InvalidDuration as exc:
        raise typer.BadParameter(str(exc), param_hint="'--expires'") from None


Expires = Annotated[
    str | None,
    typer.Option(
        "--expires",
        metavar="WHEN",
        help=(
            "End of the assignment: an ISO 8601 timestamp with a time zone, or a duration from "
            "now: ISO 8601 (P7D, PT90M) or 90m, 12h, 7d, 2w."
        ),
    ),
]


def assign(
    ctx: typer.Context, tenant: TenantSlug, user: UserRef, role: RoleName, expires: Expires = None
) -> None:
    """Give USER ROLE in TENANT (making them a member); again, to change the expiry."""
    end = None if expires is None else parse_expiry(expires)
    with open_rolegate(ctx) as rg:
        assignment = rg.assignments.assign(
            tenant,
            user,
            role,
            expires_at=end if isinstance(end, datetime) else None,
            expires_in=end if isinstance(end, timedelta) else None,
        )
    until = f" until {moment(assignment.expires_at)}" if assignment.expires_at else ""
    say(
        f"assigned role {assignment.role!r} to {assignment.username!r} "
        f"in tenant {assignment.tenant!r}{until}"
    )


def unassign(ctx: typer.Context, tenant: TenantSlug, user: UserRef, role: RoleName) -> None:
    """Take ROLE away from USER in TENANT; the membership stays."""
    with open_rolegate(ctx) as rg:
        rg.assignments.unassign(tenant, user, role)
    say(f"unassigned role {role!r} from {user!r} in tenant {tenant!r}")


@app.command("list")
def list_assignments(
    ctx: typer.Context,
    tenant: TenantSlug,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only this role's.")] = None,
    as_json: Json = False,
) -> None:
    """List a tenant's assignments by user then role, expired ones included."""
    with open_rolegate(ctx) as rg:
        assignments = rg.assignments.list(tenant, user=user, role=role)
    if as_json:
        print_json(assignments)
    else:
        print_assignments(f"Assignments in tenant {tenant}", assignments)


def print_assignments(title: str, assignments: list[Assignment]) -> None:
    """Print assignments as a table, marking those that have expired."""
    now = datetime.now(UTC)
    print_table(
        title,
        ["user", "role", "granted", "granted by", "expires", "state"],
        [
            [
                a.username,
                a.role,
                moment(a.granted_at),
                a.granted_by,
                moment(a.expires_at),
                "expired" if a.is_expired(now) else "active",
            ]
            for a in assignments
        ],
    )
