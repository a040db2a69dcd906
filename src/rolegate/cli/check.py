"""``rolegate check``: may a user do a permission in a tenant? Answered like ``kubectl can-i``."""

from __future__ import annotations

from typing import Annotated, Final

import typer

from rolegate.authz.decision import Reason
from rolegate.cli._common import TenantSlug, UserRef, open_rolegate
from rolegate.cli._errors import fail
from rolegate.cli._output import say

ALLOWED_EXIT: Final = 0
DENIED_EXIT: Final = 1


def check(
    ctx: typer.Context,
    tenant: TenantSlug,
    user: UserRef,
    permission: Annotated[
        str,
        typer.Argument(metavar="PERMISSION", help="Exact permission, such as 'documents:read'."),
    ],
    explain: Annotated[
        bool, typer.Option("--explain", help="Also print the reason code of the decision.")
    ] = False,
) -> None:
    """Print 'allowed' (exit 0) or 'denied' (exit 1); exit 2 when the check itself failed."""
    with open_rolegate(ctx) as rg:
        decision = rg.explain(user, permission, tenant=tenant)
    if decision.reason is Reason.ERROR:  # the facade denied because deciding failed
        fail("the check failed, so it was denied; set ROLEGATE_DEBUG=1 to see why")
    answer = "allowed" if decision.allowed else "denied"
    say(f"{answer} ({decision.reason})" if explain else answer)
    raise typer.Exit(ALLOWED_EXIT if decision.allowed else DENIED_EXIT)
