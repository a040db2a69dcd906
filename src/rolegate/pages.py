"""A page of a listing and what a listing offers: its page sizes and the orders it sorts by.

Every listing (library, API, CLI) returns a :class:`Page` and takes a ``limit`` of at most
:data:`MAX_PAGE_SIZE`; its ``next_cursor`` is opaque, at most :data:`MAX_CURSOR_LENGTH` long.
How a page is read (keyset, no offset) is the services' business (``services/pages.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar

from rolegate.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000
MAX_CURSOR_LENGTH: Final = 2048

#: The orders each listing sorts by.
TenantSort = Literal["slug", "created_at"]
UserSort = Literal["username", "created_at"]
RoleSort = Literal["name", "created_at"]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back for the next (None: this was the last)."""

    items: list[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    """``limit`` if it is a page size this API serves, else :class:`InvalidInput`."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return limit
