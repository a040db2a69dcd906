"""Shared type aliases: typed ids so a user id cannot be passed where a tenant id belongs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Final, NewType
from uuid import UUID

TenantId = NewType("TenantId", UUID)
UserId = NewType("UserId", UUID)
RoleId = NewType("RoleId", UUID)
PermissionId = NewType("PermissionId", UUID)
ResourceId = NewType("ResourceId", UUID)
SessionId = NewType("SessionId", UUID)

#: How callers name a stored object: its id, or its slug or name (a string that names nothing
#: but parses as a UUID is tried as an id too, so the CLI can take either).
Ref = str | UUID

#: A returns-now callable; injected so tests can move time without sleeping.
Clock = Callable[[], datetime]

#: Told how far a long operation is: ``(done, total)``, in its own units (audit events...).
#: Called every so often and once at the end, with ``done == total``.
Progress = Callable[[int, int], None]

#: Who made a change, as recorded in audit events and ``granted_by`` columns
#: (a user id, ``system``, or ``cli:<os user>``).
Actor = NewType("Actor", str)


class Unset(Enum):
    """Marks an update argument that was not given (``None`` may be a real value)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET

__all__ = [
    "Actor",
    "Clock",
    "PermissionId",
    "Progress",
    "Ref",
    "ResourceId",
    "RoleId",
    "SessionId",
    "TenantId",
    "UNSET",
    "Unset",
    "UserId",
]
