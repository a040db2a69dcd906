"""Where the current action comes from: the client's address and agent, the request id, and
(once authenticated) the caller. An edge sets it for the span of a request; every audit event
written meanwhile carries it, without each service signature growing four parameters.

A :class:`contextvars.ContextVar` follows the request into worker threads (Starlette and anyio
copy the context), and is empty (None) for library calls made outside any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

MAX_AGENT_LENGTH: Final = 300
MAX_REQUEST_ID_LENGTH: Final = 100


@dataclass(slots=True)
class Origin:
    """One request's origin. ``actor`` is filled in once the caller is authenticated, so it
    is mutable: the same object is shared by every copy of the request's context."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    actor: str | None = None
    route: str | None = None  # "POST /v1/tenants/{tenant}/roles", for denied calls

    def __post_init__(self) -> None:
        if self.user_agent is not None:
            self.user_agent = self.user_agent[:MAX_AGENT_LENGTH]
        if self.request_id is not None:
            self.request_id = self.request_id[:MAX_REQUEST_ID_LENGTH]


_current: ContextVar[Origin | None] = ContextVar("rolegate_origin", default=None)


#: The origin of the action under way, or None outside any request. The variable's own bound
#: ``get``: a denied check reads it, and a wrapping function would double the cost.
current_origin: Final = _current.get


@contextmanager
def acting_from(origin: Origin) -> Iterator[Origin]:
    """Make ``origin`` current for the block (and every thread its context is copied to)."""
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)
