"""What the schemas of every resource share: request bases that refuse what they do not read,
and the query parameters of paginated listings.

Request models forbid unknown fields, so a client can never set more than an endpoint reads:
ids, tenant ids, hashes, timestamps and privileges are simply not fields (mass assignment,
OWASP API3:2023). A listing returns ``items`` and ``next_cursor``; following the cursor with the
same filters reads every row once, however many rows are inserted meanwhile (keyset
pagination, :mod:`rolegate.services.pages`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

from rolegate.services.pages import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE


class RequestModel(BaseModel):
    """A request body: unknown fields are a 422, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PatchModel(RequestModel):
    """A partial update: a field left out stays as it is. `null` is accepted only for the
    fields named in `nullable` (where it means "remove"); elsewhere it is a 422, not a
    silent no-op."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null(self) -> Self:
        given_null = sorted(
            name for name in self.model_fields_set - self.nullable if getattr(self, name) is None
        )
        if given_null:
            raise ValueError(f"{', '.join(given_null)} cannot be null; leave it out instead")
        return self


Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"items per page: 1 to {MAX_PAGE_SIZE}, {DEFAULT_PAGE_SIZE} if not given",
    ),
]


def _absent_if_empty(cursor: str | None) -> str | None:
    # ``?cursor=`` is what a client sends when it writes a null next_cursor into the URL
    # (``f"?cursor={next_cursor or ''}"``): it asks for the first page, not a malformed one.
    return cursor or None


#: The cursor query parameter of every listing; empty is the same as absent. The length bound
#: sits on the string itself: checked after the emptiness rule, it would be applied to None.
Cursor = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_CURSOR_LENGTH)] | None,
    AfterValidator(_absent_if_empty),
    Query(
        description=(
            "the next_cursor of the previous page (with the same filters and sort); "
            "empty or absent: the first page"
        ),
    ),
]
SortOrder = Annotated[Literal["asc", "desc"], Query(description="sort direction")]
