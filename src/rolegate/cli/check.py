"""``rolegate check``: may a user do a permission in a tenant? Answered like ``kubectl can-i``.

A name that does not exist (a typo in the tenant, the user or the permission) is an error, not a
"denied": the answer would be "no" whatever the policy said, and the operator should fix the
command, so the error names what is unknown and the closest existing name.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches
from typing import Annotated, Final

import typer

from rolegate.authz.decision import Decision, Reason
from rolegate.cli._common import Json, TenantSlug, UserRef, open_rolegate
from rolegate.cli._errors import fail
from rolegate.cli._output import print_json, say
from rolegate.facade import Rolegate

ALLOWED_EXIT: Final = 0
DENIED_EXIT: Final = 1

#: Denials that already say the tenant or the user does not exist.
_UNKNOWN_NAMES: Final = frozenset({Reason.UNKNOWN_TENANT, Reason.UNKNOWN_USER})
#: Denials that come from deciding itself failing: no name is to blame.
_FAILURES: Final = frozenset({Reason.ERROR, Reason.STALE})


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
    as_json: Json = False,
) -> None:
    """Print 'allowed' (exit 0) or 'denied' (exit 1); exit 2 when the check itself failed or
    names a tenant, user or permission that does not exist."""
    with open_rolegate(ctx) as rg:
        decision = rg.explain(user, permission, tenant=tenant)
        if not decision.allowed and decision.reason not in _FAILURES:
            refuse_unknown_names(rg, decision, tenant=tenant, user=user, permission=permission)
    if decision.reason is Reason.ERROR:  # the facade denied because deciding failed
        fail("the check failed, so it was denied; set ROLEGATE_DEBUG=1 to see why")
    if as_json:
        print_json({"allowed": decision.allowed, "reason": str(decision.reason)})
    else:
        answer = "allowed" if decision.allowed else "denied"
        say(f"{answer} ({decision.reason})" if explain else answer)
    raise typer.Exit(ALLOWED_EXIT if decision.allowed else DENIED_EXIT)


def refuse_unknown_names(
    rg: Rolegate, decision: Decision, *, tenant: str, user: str, permission: str
) -> None:
    """:func:`fail` for the first of tenant, user, permission that does not exist, suggesting
    the closest existing name; return when all three exist."""
    if decision.reason is Reason.UNKNOWN_TENANT:
        slugs = (known.slug for known in rg.tenants.list())
        fail(f"unknown tenant {tenant!r}{did_you_mean(tenant, slugs)}")
    if decision.reason is Reason.UNKNOWN_USER:
        members = (member.username for member in rg.memberships.list(tenant))
        fail(f"unknown user {user!r}{did_you_mean(user, members)}")
    if decision.reason not in _UNKNOWN_NAMES and not rg.permissions.defines(tenant, permission):
        names = (defined.name for defined in rg.permissions.list(tenant))
        where = f" in tenant {tenant!r}"
        fail(f"unknown permission {permission!r}{where}{did_you_mean(permission, names)}")


def did_you_mean(typed: str, names: Iterable[str]) -> str:
    """``; did you mean 'acme'?`` with the existing name closest to ``typed`` in any case, or
    nothing when none is close (difflib's ratio of at least 0.6)."""
    by_key = {name.lower(): name for name in names}
    close = get_close_matches(typed.lower(), list(by_key), n=1)
    return f"; did you mean {by_key[close[0]]!r}?" if close else ""
