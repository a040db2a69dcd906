"""``rolegate permission``: define, list, update and delete a tenant's permissions."""

from __future__ import annotations

from typing import Annotated

import typer

from rolegate.cli._common import Json, TenantSlug, open_rolegate
from rolegate.cli._output import NOTHING, print_json, print_table, say, yes_no

app = typer.Typer(help="Manage a tenant's permissions.", no_args_is_help=True)

Name = Annotated[
    str,
    typer.Argument(
        metavar="NAME", help="'resource:action', an UPPER_SNAKE name, or a pattern ('docs:*')."
    ),
]
Audited = Annotated[
    bool,
    typer.Option(
        "--audited/--not-audited",
        help="Record allowed checks in the audit trail, not only denials.",
    ),
]


@app.command("create")
def create_permission(
    ctx: typer.Context,
    tenant: TenantSlug,
    name: Name,
    description: Annotated[str, typer.Option("--description", help="What it allows.")] = "",
    audited: Audited = False,
) -> None:
    """Define a permission (its resource is created on demand)."""
    with open_rolegate(ctx) as rg:
        permission = rg.permissions.create(tenant, name, description=description, audited=audited)
    kind = "audited permission" if permission.audited else "permission"
    say(f"created {kind} {permission.name!r} in tenant {permission.tenant!r}")


@app.command("update")
def update_permission(
    ctx: typer.Context,
    tenant: TenantSlug,
    name: Name,
    description: Annotated[
        str | None, typer.Option("--description", help="What it allows, anew.")
    ] = None,
    audited: Annotated[
        bool | None,
        typer.Option(
            "--audited/--not-audited",
            help="Record allowed checks in the audit trail, or only denials (default: unchanged).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Change a permission's description, or whether its allowed checks are audited."""
    if description is None and audited is None:
        raise typer.BadParameter("nothing to change: give --description or --audited/--not-audited")
    with open_rolegate(ctx) as rg:
        permission = rg.permissions.update(tenant, name, description=description, audited=audited)
    say(
        f"updated permission {permission.name!r} in tenant {permission.tenant!r} "
        f"(audited: {yes_no(permission.audited)})"
    )


@app.command("list")
def list_permissions(ctx: typer.Context, tenant: TenantSlug, as_json: Json = False) -> None:
    """List a tenant's permissions and patterns by name."""
    with open_rolegate(ctx) as rg:
        permissions = rg.permissions.list(tenant)
    if as_json:
        print_json(permissions)
        return
    print_table(
        f"Permissions in tenant {tenant}",
        ["name", "resource", "action", "pattern", "audited", "description"],
        [
            [
                p.name,
                p.resource or NOTHING,
                p.action,
                yes_no(p.is_pattern),
                yes_no(p.audited),
                p.description,
            ]
            for p in permissions
        ],
    )


@app.command("delete")
def delete_permission(ctx: typer.Context, tenant: TenantSlug, name: Name) -> None:
    """Delete a permission; every role granted it loses the grant."""
    with open_rolegate(ctx) as rg:
        rg.permissions.delete(tenant, name)
    say(f"deleted permission {name!r} from tenant {tenant!r}")
