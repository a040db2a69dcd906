"""``rolegate role``: roles, their grants of permissions and their inheritance of other roles."""

from __future__ import annotations

from typing import Annotated

import typer

from rolegate.cli._common import Json, RoleName, TenantSlug, open_rolegate
from rolegate.cli._output import jsonable, listing, print_json, print_table, say
from rolegate.cli.assignments import print_assignments
from rolegate.entities import Role

app = typer.Typer(
    help="Manage a tenant's roles, their grants and inheritance.", no_args_is_help=True
)

Permission = Annotated[
    str,
    typer.Argument(
        metavar="PERMISSION",
        help="Permission or pattern, such as 'documents:read' or 'reports:*'.",
    ),
]
Inherited = Annotated[
    str, typer.Argument(metavar="INHERITED", help="The role whose permissions ROLE inherits.")
]


@app.command("create")
def create_role(
    ctx: typer.Context,
    tenant: TenantSlug,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new role's name.")],
    description: Annotated[str, typer.Option("--description", help="What the role is for.")] = "",
    permissions: Annotated[
        list[str] | None,
        typer.Option("--permission", "-p", help="Grant this permission (repeatable)."),
    ] = None,
    inherits: Annotated[
        list[str] | None, typer.Option("--inherits", help="Inherit this role (repeatable).")
    ] = None,
) -> None:
    """Create a role with its grants and parents, all or nothing."""
    with open_rolegate(ctx) as rg:
        role = rg.roles.create(
            tenant,
            name,
            description=description,
            permissions=permissions or [],
            inherits=inherits or [],
        )
    say(f"created role {role.name!r} in tenant {role.tenant!r}")


@app.command("list")
def list_roles(ctx: typer.Context, tenant: TenantSlug, as_json: Json = False) -> None:
    """List a tenant's roles with their direct grants and parents."""
    with open_rolegate(ctx) as rg:
        roles = rg.roles.list(tenant)
    if as_json:
        print_json(roles)
    else:
        print_roles(f"Roles in tenant {tenant}", roles)


@app.command("show")
def show_role(
    ctx: typer.Context, tenant: TenantSlug, role: RoleName, as_json: Json = False
) -> None:
    """Show a role: direct grants, the roles it inherits, and who holds it."""
    with open_rolegate(ctx) as rg:
        found = rg.roles.get(tenant, role)
        holders = rg.assignments.list(tenant, role=found.id)
    if as_json:
        print_json({**jsonable(found), "holders": holders})
        return
    print_roles(f"Role {found.name} in tenant {found.tenant}", [found])
    print_assignments("Holders", holders)


@app.command("delete")
def delete_role(ctx: typer.Context, tenant: TenantSlug, role: RoleName) -> None:
    """Delete a role with its grants, inheritance edges and assignments."""
    with open_rolegate(ctx) as rg:
        rg.roles.delete(tenant, role)
    say(f"deleted role {role!r} from tenant {tenant!r}")


@app.command("grant")
def grant_permission(
    ctx: typer.Context, tenant: TenantSlug, role: RoleName, permission: Permission
) -> None:
    """Grant a permission to a role; a pattern is defined on its first grant."""
    with open_rolegate(ctx) as rg:
        rg.roles.grant(tenant, role, permission)
    say(f"granted {permission!r} to role {role!r} in tenant {tenant!r}")


@app.command("revoke")
def revoke_permission(
    ctx: typer.Context, tenant: TenantSlug, role: RoleName, permission: Permission
) -> None:
    """Take a permission (exactly as granted) away from a role."""
    with open_rolegate(ctx) as rg:
        rg.roles.revoke(tenant, role, permission)
    say(f"revoked {permission!r} from role {role!r} in tenant {tenant!r}")


@app.command("inherit")
def inherit_role(
    ctx: typer.Context, tenant: TenantSlug, role: RoleName, inherited: Inherited
) -> None:
    """Make ROLE inherit every permission of INHERITED (no cycles)."""
    with open_rolegate(ctx) as rg:
        rg.roles.inherit(tenant, role, inherited)
    say(f"role {role!r} now inherits {inherited!r} in tenant {tenant!r}")


@app.command("uninherit")
def uninherit_role(
    ctx: typer.Context, tenant: TenantSlug, role: RoleName, inherited: Inherited
) -> None:
    """Stop ROLE inheriting from INHERITED."""
    with open_rolegate(ctx) as rg:
        rg.roles.uninherit(tenant, role, inherited)
    say(f"role {role!r} no longer inherits {inherited!r} in tenant {tenant!r}")


def print_roles(title: str, roles: list[Role]) -> None:
    """Print roles as a table: name, direct grants, parents, description."""
    print_table(
        title,
        ["role", "grants", "inherits", "description"],
        [[r.name, listing(r.permissions), listing(r.inherits), r.description] for r in roles],
    )
