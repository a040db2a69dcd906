"""``rolegate tenant``: create, list and delete tenants."""

from __future__ import annotations

from typing import Annotated

import typer

from rolegate.cli._common import Json, Yes, confirm_or_stop, open_rolegate
from rolegate.cli._output import moment, print_json, print_table, say

app = typer.Typer(help="Manage tenants.", no_args_is_help=True)

Slug = Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug, such as 'acme'.")]


@app.command("create")
def create_tenant(
    ctx: typer.Context,
    slug: Slug,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (default: the slug).")
    ] = None,
) -> None:
    """Create a tenant."""
    with open_rolegate(ctx) as rg:
        tenant = rg.tenants.create(slug, name=name)
    say(f"created tenant {tenant.slug!r}")


@app.command("list")
def list_tenants(ctx: typer.Context, as_json: Json = False) -> None:
    """List every tenant by slug."""
    with open_rolegate(ctx) as rg:
        tenants = rg.tenants.list()
    if as_json:
        print_json(tenants)
        return
    print_table(
        "Tenants",
        ["slug", "name", "created"],
        [[t.slug, t.name, moment(t.created_at)] for t in tenants],
    )


@app.command("delete")
def delete_tenant(ctx: typer.Context, slug: Slug, yes: Yes = False) -> None:
    """Delete a tenant with its roles, permissions and memberships (audit events stay)."""
    with open_rolegate(ctx) as rg:
        tenant = rg.tenants.get(slug)  # an unknown tenant fails before the question
        confirm_or_stop(
            f"Delete tenant {tenant.slug!r} with all its roles, permissions and memberships?",
            assume_yes=yes,
        )
        rg.tenants.delete(tenant.id)
    say(f"deleted tenant {tenant.slug!r}")
