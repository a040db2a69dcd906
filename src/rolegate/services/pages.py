"""Keyset (cursor) pagination: pages (:mod:`rolegate.pages`) that stay correct while rows are
inserted and deleted.

A page is read with ``WHERE (sort key, id) > (last key, last id) ORDER BY sort key, id LIMIT n+1``:
no offset, so a row inserted before the cursor shifts nothing and no row is listed twice or
skipped, and reading page 1,000 costs what page 1 does. The cursor carries the last row's key as
opaque base64url JSON; a cursor that does not decode for this listing is :class:`InvalidInput`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Select, false, func, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from rolegate.errors import InvalidInput
from rolegate.pages import MAX_CURSOR_LENGTH, Page, check_limit

T = TypeVar("T")
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Order:
    """How a listing is sorted: columns, the last of which is unique, ascending or descending."""

    columns: Sequence[InstrumentedAttribute[Any]]
    descending: bool = False


def starts_with(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """``column`` begins with ``prefix``, compared exactly on every backend (``LIKE`` ignores
    case on SQLite, and would need its ``%`` and ``_`` escaped)."""
    if "\x00" in prefix:  # no name holds one, and PostgreSQL refuses it as a parameter
        return false()
    return func.substr(column, 1, len(prefix)) == prefix


def sort_key(order: Order) -> Callable[[Any], Sequence[object]]:
    """The cursor key of a row listed in ``order``: the row's values of the order's columns."""
    return lambda row: [getattr(row, column.key) for column in order.columns]


def order_by(
    sorts: Mapping[str, Sequence[InstrumentedAttribute[Any]]],
    sort: str,
    *,
    descending: bool,
    what: str,
) -> Order:
    """The :class:`Order` named ``sort`` among a listing's ``sorts``; :class:`InvalidInput`
    naming them, for ``what`` is listed (``"roles"``), when it is none of them."""
    if sort not in sorts:
        raise InvalidInput(f"{what} sort by one of {', '.join(sorts)}")
    return Order(sorts[sort], descending=descending)


def _encode(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _python_type(column: InstrumentedAttribute[Any]) -> type:
    column_type = column.type
    impl = getattr(column_type, "impl", None)  # a TypeDecorator (UTCDateTime) reports ``object``
    found: type = impl.python_type if impl is not None else column_type.python_type
    return found


def _decode(column: InstrumentedAttribute[Any], value: object) -> object:
    python_type = _python_type(column)
    if python_type is UUID and isinstance(value, str):
        return UUID(value)
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, python_type):
        return value
    raise ValueError(f"{value!r} is not a {python_type.__name__}")


def decode_cursor(cursor: str, order: Order) -> list[object]:
    """The sort key a cursor carries, checked against ``order``'s columns."""
    try:
        key = _parse_cursor(cursor, order)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not valid for this listing; start again without one") from exc
    return key


def _parse_cursor(cursor: str, order: Order) -> list[object]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("too long")
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    if not isinstance(raw, list) or len(raw) != len(order.columns):
        raise ValueError("wrong shape")
    return [_decode(column, value) for column, value in zip(order.columns, raw, strict=True)]


def encode_cursor(key: Sequence[object]) -> str:
    """The opaque cursor for a row with this sort key."""
    text = json.dumps([_encode(value) for value in key], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def paged(query: Select[Any], order: Order, *, cursor: str | None, limit: int) -> Select[Any]:
    """``query`` narrowed to the page after ``cursor``, sorted, with one row more than
    ``limit`` so :func:`page_of` can tell whether another page follows."""
    check_limit(limit)
    key: ColumnElement[Any] = tuple_(*order.columns)
    if cursor is not None:
        after = tuple_(*decode_cursor(cursor, order))
        query = query.where(key < after if order.descending else key > after)
    columns = [c.desc() if order.descending else c.asc() for c in order.columns]
    return query.order_by(*columns).limit(limit + 1)


def page_of(
    rows: Sequence[Row],
    *,
    limit: int,
    key: Callable[[Row], Sequence[object]],
    entity: Callable[[Row], T],
) -> Page[T]:
    """The page made of the rows a :func:`paged` query returned."""
    more = len(rows) > limit
    kept = rows[:limit]
    next_cursor = encode_cursor(key(kept[-1])) if more and kept else None
    return Page([entity(row) for row in kept], next_cursor)
