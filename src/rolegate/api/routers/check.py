"""``/v1/tenants/{tenant}``: the check API. May a member do something, many such questions at
once, why, who may, and what may a member do. Callers need ``rolegate:check`` in the tenant.

Every answer reflects every change acknowledged before the request arrived, on any server: the
guard catches up first. ``check`` and ``check/batch`` are on the lean path
(:class:`rolegate.api.fresh.FreshRoute`): same contract, a fraction of the per-request cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from rolegate.api.deps import Caller, MetricsDep, RolegateDep, requires
from rolegate.api.fresh import FreshRoute
from rolegate.api.metrics import Metrics
from rolegate.api.schemas.check import (
    MAX_BATCH,
    BatchCheckRequest,
    BatchCheckResult,
    CheckRequest,
    CheckResult,
    ExplanationRead,
    HeldRoleRead,
    HolderPageRead,
    UserPermissionsRead,
)
from rolegate.api.schemas.common import Cursor, name_rule
from rolegate.authz.decision import Reason
from rolegate.builtins import CHECK
from rolegate.errors import PolicyStale, UserNotFound
from rolegate.facade import Rolegate
from rolegate.names import (
    MAX_PERMISSION_LENGTH,
    MAX_USERNAME_LENGTH,
    PERMISSION_PATTERN,
    USERNAME_PATTERN,
)
from rolegate.pages import MAX_PAGE_SIZE

router = APIRouter(prefix="/v1/tenants/{tenant}", tags=["check"])

Checker = Annotated[Caller, Depends(requires(CHECK))]
PermissionPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_PERMISSION_LENGTH,
        description="permission name",
        json_schema_extra=name_rule(PERMISSION_PATTERN),
    ),
]
UserPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_USERNAME_LENGTH,
        description="username or user id",
        json_schema_extra=name_rule(USERNAME_PATTERN),
    ),
]
DEFAULT_HOLDERS: Final = 100

#: Every check's answer is one of these two, made once.
_ALLOWED: Final = CheckResult(allowed=True)
_DENIED: Final = CheckResult(allowed=False)
#: A user is not a member of the tenant when the engine denies anything for one of these.
_NOT_MEMBER: Final = frozenset({Reason.UNKNOWN_USER, Reason.NO_MEMBERSHIP})


def _decide(
    rolegate: Rolegate, metrics: Metrics, pairs: Sequence[tuple[str, str]], tenant_id: UUID
) -> list[bool]:
    """The answers, counted by decision and by cache hit or miss."""
    compiles = rolegate.cache_stats().compiles
    answers = rolegate.check_pairs(pairs, tenant=tenant_id)
    metrics.count_checks(answers, compiles=rolegate.cache_stats().compiles - compiles)
    return answers


def check(
    body: CheckRequest, caller: Checker, rolegate: RolegateDep, metrics: MetricsDep
) -> CheckResult:
    """Whether `user` may do `permission` here. Anyone who is not an active member of the
    tenant (an unknown user included) may do nothing: `allowed` is false, not an error."""
    [allowed] = _decide(rolegate, metrics, [(body.user, body.permission)], caller.tenant_id)
    return _ALLOWED if allowed else _DENIED


def check_batch(
    body: BatchCheckRequest, caller: Checker, rolegate: RolegateDep, metrics: MetricsDep
) -> BatchCheckResult:
    """Up to 1,000 checks of any members and permissions of the tenant, answered in order."""
    pairs = [(item["user"], item["permission"]) for item in body.checks]
    answers = _decide(rolegate, metrics, pairs, caller.tenant_id)
    return BatchCheckResult(results=[_ALLOWED if allowed else _DENIED for allowed in answers])


router.add_api_route(
    "/check", check, methods=["POST"], route_class_override=FreshRoute, name="check"
)
router.add_api_route(
    "/check/batch",
    check_batch,
    methods=["POST"],
    route_class_override=FreshRoute,
    name="check_batch",
    description=f"At most {MAX_BATCH} checks per request; more is a 422.",
)


@router.post("/explain")
def explain(body: CheckRequest, caller: Checker, rolegate: RolegateDep) -> ExplanationRead:
    """The decision with its reason code and, when allowed, every chain of roles that allows it
    (reason `error`: deciding failed, and the answer is a denial). A policy that may be
    stale is the 503 `policy_stale` problem, as for `check`."""
    decision = rolegate.explain(body.user, body.permission, tenant=caller.tenant_id)
    if decision.reason is Reason.STALE:
        freshness = rolegate.freshness
        raise PolicyStale(freshness.seconds_since_confirmed, bound=freshness.max_staleness)
    return ExplanationRead.of(decision)


@router.get("/permissions/{name}/holders")
def holders(
    name: PermissionPath,
    caller: Checker,
    rolegate: RolegateDep,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_HOLDERS,
) -> HolderPageRead:
    """Every active member who holds the permission now, by username, and through which
    assigned roles; complete when `next_cursor` is followed until it is null."""
    page = rolegate.who_can(name, tenant=caller.tenant_id, cursor=cursor, limit=limit)
    return HolderPageRead.of(page)


@router.get("/users/{user}/permissions")
def user_permissions(
    tenant: str, user: UserPath, caller: Checker, rolegate: RolegateDep
) -> UserPermissionsRead:
    """Every permission and pattern a member holds here now, and every role, assigned or
    inherited. A user who is not a member is the same 404 as one who does not exist."""
    # The engine's own notion of membership: the snapshot the answers below come from says
    # why it denies; the permission asked is immaterial to these two reasons.
    if rolegate.explain(user, CHECK, tenant=caller.tenant_id).reason in _NOT_MEMBER:
        raise UserNotFound(user, tenant=tenant)
    return UserPermissionsRead(
        permissions=list(rolegate.permissions_of(user, tenant=caller.tenant_id)),
        roles=[HeldRoleRead.of(held) for held in rolegate.roles_of(user, tenant=caller.tenant_id)],
    )
