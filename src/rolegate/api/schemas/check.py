"""Bodies of the check API (``/v1/tenants/{tenant}/check``, ``/check/batch``, ``/explain``,
``/permissions/{name}/holders``, ``/users/{user}/permissions``).

Request models forbid unknown fields, so a misspelt field is a 422, never a silently different
question. A user is named by username or id, as everywhere in rolegate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from rolegate.api.schemas.common import name_rule
from rolegate.authz.decision import Decision
from rolegate.authz.evaluate import HeldRole
from rolegate.authz.holders import HolderPage
from rolegate.names import (
    MAX_PERMISSION_LENGTH,
    MAX_USERNAME_LENGTH,
    PERMISSION_PATTERN,
    USERNAME_PATTERN,
)

#: The most checks one batch may ask; more is a 422 (split the batch).
MAX_BATCH: Final = 1000

UserRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_USERNAME_LENGTH,
        description="username or user id",
        json_schema_extra=name_rule(USERNAME_PATTERN),
        examples=["alice"],
    ),
]
PermissionRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_PERMISSION_LENGTH,
        description="permission name, e.g. documents:read",
        json_schema_extra=name_rule(PERMISSION_PATTERN),
        examples=["documents:read"],
    ),
]


class CheckRequest(BaseModel):
    """May `user` do `permission` in the tenant of the path?"""

    model_config = ConfigDict(extra="forbid")

    user: UserRef
    permission: PermissionRef


class CheckResult(BaseModel):
    """The answer: `allowed` is false for a user who is not an active member."""

    allowed: bool


@with_config(ConfigDict(extra="forbid"))
class CheckItem(TypedDict):
    """One check of a batch: `CheckRequest`'s fields and rules, as a plain dict (a
    thousand of them validate in about two thirds of the time models take)."""

    user: UserRef
    permission: PermissionRef


class BatchCheckRequest(BaseModel):
    """Up to 1000 checks of any members and permissions of one tenant."""

    model_config = ConfigDict(extra="forbid")

    checks: list[CheckItem] = Field(min_length=1, max_length=MAX_BATCH)


class BatchCheckResult(BaseModel):
    """One answer per check, in the order asked."""

    results: list[CheckResult]


class ChainRead(BaseModel):
    """One way the permission is held: the assigned role first, then the roles inherited on the
    way, and the grant that matched (a pattern such as `documents:*` when a wildcard did)."""

    roles: list[str]
    grant: str


class ExplanationRead(BaseModel):
    """The decision with its reason code and, when allowed, every chain that allows it."""

    allowed: bool
    reason: str = Field(description="granted, unknown_user, no_membership, inactive_user, ...")
    chains: list[ChainRead]
    revision: int = Field(description="the policy revision the decision was made at")

    @classmethod
    def of(cls, decision: Decision) -> ExplanationRead:
        """The view of ``decision``."""
        return cls(
            allowed=decision.allowed,
            reason=decision.reason.value,
            chains=[ChainRead(roles=list(c.roles), grant=c.grant) for c in decision.chains],
            revision=decision.revision,
        )


class HolderRead(BaseModel):
    """A member holding the permission, and the assigned roles that give it."""

    user_id: UUID
    username: str
    roles: list[str]


class HolderPageRead(BaseModel):
    """One page of holders, by username; pass `next_cursor` back for the next (null: last)."""

    items: list[HolderRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: HolderPage) -> HolderPageRead:
        """The view of ``page``."""
        return cls(
            items=[
                HolderRead(user_id=h.user_id, username=h.username, roles=list(h.roles))
                for h in page.holders
            ],
            next_cursor=page.next_cursor,
        )


class HeldRoleRead(BaseModel):
    """A role held now: assigned (`via` empty) or inherited through `via`."""

    name: str
    via: list[str]
    expires_at: datetime | None

    @classmethod
    def of(cls, held: HeldRole) -> HeldRoleRead:
        """The view of ``held``."""
        return cls(name=held.name, via=list(held.via), expires_at=held.expires_at)


class UserPermissionsRead(BaseModel):
    """What a member may do in the tenant now: every permission and pattern, and the roles."""

    permissions: list[str]
    roles: list[HeldRoleRead]
