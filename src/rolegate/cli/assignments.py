"""``rolegate assign``, ``unassign`` and ``assignment list``: who holds which role, until when."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import typer

from rolegate.cli._common import Json, RoleName, TenantSlug, UserRef, open_rolegate
from rolegate.cli._output import moment, print_json, print_table, say
from rolegate.entities import Assignment

app = typer.Typer(help="Inspect role assignments.", no_args_is_help=True)

_DURATION = re.compile(r"(\d+)([mhdw])")
_UNITS: Final = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_expiry(text: str) -> datetime:
    """An ISO 8601 datetime, or ``now`` plus a duration such as ``90m``, ``12h``, ``7d``, ``2w``.

    A datetime without a time zone is passed on as it is: the assignment service owns the rule
    that rejects it (and past times), so the CLI and the API report the same error.
    """
    text = text.strip()
    duration = _DURATION.fullmatch(text)
    if duration is not None:
        amount, unit = duration.groups()
        try:
            return datetime.now(UTC) + int(amount) * _UNITS[unit]
        except OverflowError:
            raise typer.BadParameter(f"{text!r} is too far in the future") from None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO 8601 datetime with a time zone "
            "(2030-01-31T18:00:00+00:00) nor a duration such as 90m, 12h, 7d or 2w"
        ) from None


Expires = Annotated[
    datetime | None,
    typer.Option(
        "--expires",
        metavar="WHEN",
        parser=parse_expiry,
        help="End of the assignment: ISO 8601 with a time zone, or 90m, 12h, 7d, 2w from now.",
    ),
]


def assign(
    ctx: typer.Context, tenant: TenantSlug, user: UserRef, role: RoleName, expires: Expires = None
) -> None:
    """Give USER ROLE in TENANT (making them a member); again, to change the expiry."""
    with open_rolegate(ctx) as rg:
        assignment = rg.assignments.assign(tenant, user, role, expires_at=expires)
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
