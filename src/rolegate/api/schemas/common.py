"""What the schemas of every resource share: request bases that refuse what they do not read,
and the query parameters of paginated listings.

Request models forbid unknown fields, so a client can never set more than an endpoint reads:
ids, tenant ids, hashes, timestamps and privileges are simply not fields (mass assignment,
OWASP API3:2023). A listing returns ``items`` and ``next_cursor``; following the cursor with the
same filters reads every row once, however many rows are inserted meanwhile (keyset
pagination, :mod:`rolegate.services.pages`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from rolegate.names import (
    EMAIL_PATTERN,
    GRANT_PATTERN,
    MAX_EMAIL_LENGTH,
    MAX_PERMISSION_LENGTH,
    MAX_ROLE_NAME_LENGTH,
    MAX_SLUG_LENGTH,
    MAX_USERNAME_LENGTH,
    PERMISSION_PATTERN,
    RESOURCE_PATTERN,
    ROLE_NAME_PATTERN,
    TENANT_SLUG_PATTERN,
    USERNAME_PATTERN,
    or_uuid,
)
from rolegate.pages import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE


class RequestModel(BaseModel):
    """A request body: unknown fields are a 422, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _state_patch_rules(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # The schema says what the validator below and ``_refuse_nothing`` rules enforce: null only
    # where it means "remove", and at least one field when the model asks for one.
    assert issubclass(model, PatchModel)
    for name, field in schema.get("properties", {}).items():
        options = field.get("anyOf")
        if name in model.nullable or not options:
            continue
        field["anyOf"] = [option for option in options if option != {"type": "null"}]
        if len(field["anyOf"]) == 1:
            field.update(field.pop("anyOf")[0])
        if field.get("default", ...) is None:
            del field["default"]
    if model.at_least_one:
        schema["minProperties"] = 1


class PatchModel(RequestModel):
    """A partial update: a field left out stays as it is. `null` is accepted only for the
    fields named in `nullable` (where it means "remove"); elsewhere it is a 422, not a
    silent no-op."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_state_patch_rules)

    nullable: ClassVar[frozenset[str]] = frozenset()
    #: Whether an empty body is refused (the schema's ``minProperties``).
    at_least_one: ClassVar[bool] = False

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


def name_rule(pattern: str) -> dict[str, Any]:
    """The JSON Schema of a name rule of :mod:`rolegate.names`, for a field or parameter.

    The rule is published, not enforced here: the value layer parses every name and answers a
    bad one with its ``invalid_name`` problem (or, for a name in a path, "not found"), so the
    schema states the rule and :mod:`rolegate.names` stays the one place that applies it.
    """
    return {"pattern": pattern, "minLength": 1}


def stated(pattern: str) -> Any:
    """The name rule for the string of an optional parameter (``Annotated[str, stated(...)] |
    None``): on the parameter itself it would sit beside the ``anyOf``, where clients miss it."""
    return Field(json_schema_extra=name_rule(pattern))


#: Rules of the names a body carries (patterns from :mod:`rolegate.names`; lengths enforced).
TenantSlug = Annotated[
    str,
    Field(
        max_length=MAX_SLUG_LENGTH,
        json_schema_extra=name_rule(TENANT_SLUG_PATTERN),
        description="1-63 lowercase letters, digits or '-', starting and ending with a letter "
        "or digit",
    ),
]
TenantRef = Annotated[
    str,
    Field(max_length=MAX_SLUG_LENGTH, json_schema_extra=name_rule(or_uuid(TENANT_SLUG_PATTERN))),
]
RoleName = Annotated[
    str,
    Field(
        max_length=MAX_ROLE_NAME_LENGTH,
        json_schema_extra=name_rule(ROLE_NAME_PATTERN),
        description="1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit",
    ),
]
RoleRef = Annotated[
    str,
    Field(max_length=MAX_ROLE_NAME_LENGTH, json_schema_extra=name_rule(or_uuid(ROLE_NAME_PATTERN))),
]
PermissionName = Annotated[
    str, Field(max_length=MAX_PERMISSION_LENGTH, json_schema_extra=name_rule(PERMISSION_PATTERN))
]
GrantName = Annotated[
    str, Field(max_length=MAX_PERMISSION_LENGTH, json_schema_extra=name_rule(GRANT_PATTERN))
]
ResourceName = Annotated[
    str, Field(max_length=MAX_PERMISSION_LENGTH, json_schema_extra=name_rule(RESOURCE_PATTERN))
]
Username = Annotated[
    str, Field(max_length=MAX_USERNAME_LENGTH, json_schema_extra=name_rule(USERNAME_PATTERN))
]
#: An address as the service takes it: checked and normalised there (``names.parse_email``,
#: email-validator), internationalised domains included, hence ``idn-email`` (RFC 6531).
Email = Annotated[
    str,
    Field(
        max_length=MAX_EMAIL_LENGTH,
        json_schema_extra={**name_rule(EMAIL_PATTERN), "format": "idn-email"},
        description="stored normalised: the domain lowercased and in Unicode",
    ),
]
