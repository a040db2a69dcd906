"""Cursors: what a page hands out decodes to the same key; anything else is refused cleanly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rolegate.db.models import RoleRecord
from rolegate.errors import InvalidInput, PreconditionFailed
from rolegate.etags import entity_tag, require_match
from rolegate.pages import check_limit
from rolegate.services.pages import Order, decode_cursor, encode_cursor

FIXED_ID = "6f1c2f9e-2b4a-4c3e-9a51-0d5e8b7c4a10"
ORDER = Order((RoleRecord.name, RoleRecord.created_at, RoleRecord.id))


@given(
    name=st.text(max_size=64),
    created=st.datetimes(timezones=st.just(UTC)),
    ident=st.uuids(),
)
def test_a_cursor_carries_its_key_exactly(name: str, created: datetime, ident: uuid.UUID) -> None:
    assert decode_cursor(encode_cursor([name, created, ident]), ORDER) == [name, created, ident]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        encode_cursor(["only one"]),
        encode_cursor([1, "2026-01-01T00:00:00+00:00", FIXED_ID]),
        encode_cursor(["a", "yesterday", FIXED_ID]),
        encode_cursor(["a", "2026-01-01T00:00:00+00:00", "not-a-uuid"]),
        "A" * 5000,
        "eyJ",
    ],
)
def test_a_cursor_that_does_not_fit_the_listing_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor(cursor, ORDER)


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_page_sizes_are_bounded(limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        check_limit(limit)


def test_an_entity_tag_changes_with_the_value_and_only_then() -> None:
    from rolegate.entities import Resource
    from rolegate.types import ResourceId

    ident = ResourceId(uuid.uuid4())
    first = Resource(ident, "acme", "documents", "", revision=1)
    same = Resource(ident, "acme", "documents", "", revision=7)
    changed = Resource(ident, "acme", "documents", "described", revision=1)
    assert entity_tag(first) == entity_tag(same) != entity_tag(changed)
    require_match(None, first)
    require_match("*", first)
    require_match(f'"x", {entity_tag(first)}', first)
    with pytest.raises(PreconditionFailed) as refused:
        require_match(entity_tag(changed), first)
    assert refused.value.current == entity_tag(first)
    with pytest.raises(PreconditionFailed):
        require_match("W/" + entity_tag(first), first)  # If-Match compares strongly
