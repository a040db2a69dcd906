"""The data-access trail: authorization decisions as audit events.

A check only captures what it decided from (the frozen snapshot, the permission, the time,
the request's origin) in a :data:`DecisionRecord`; the background writer explains it, with
the same evaluator as ``explain``, and chains it. A snapshot never changes, so the explanation
is the one the check would have given, at the policy revision it was decided at.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from rolegate.audit.origin import current_origin
from rolegate.audit.recorder import AuditEntry, PendingEvent
from rolegate.audit.trail import DecisionTrail
from rolegate.authz.check import DecisionRecord
from rolegate.authz.evaluate import decide
from rolegate.authz.snapshot import Snapshot
from rolegate.services._context import ServiceContext

ALLOWED: Final = "authz.allowed"
DENIED: Final = "authz.denied"
API_DENIED: Final = "api.denied"  # a management call refused for want of a permission


class DecisionLog:
    """The checks' :class:`~rolegate.authz.check.DecisionSink`: decides which allows are
    recorded, and its :class:`DecisionTrail` buffers the records and writes them as events,
    explained when written, not when checked (:func:`describe`)."""

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        sample_rate: float,
        capacity: int,
        batch: int,
        interval: float,
        share: float,
    ) -> None:
        self._ctx = ctx
        self.sample_rate = sample_rate
        self.samples_allows = sample_rate > 0.0
        self.trail: DecisionTrail[DecisionRecord, PendingEvent] = DecisionTrail(
            describe,
            self._write,
            capacity=capacity,
            batch=batch,
            interval=interval,
            share=share,
        )
        # What the checks append to, and read the request's origin with (DecisionSink).
        self.buffer: deque[DecisionRecord] = self.trail.buffer
        self.capacity = capacity
        self.context: Callable[[], Any] = current_origin
        self.trail.start()  # the checks append without waking it: it wakes every interval

    def dropped(self) -> None:
        """Count a record a check could not buffer (the buffer was full)."""
        self.trail.dropped_one()

    def should_record_allow(self, snapshot: Snapshot, permission: str) -> bool:
        """Whether an allowed check is recorded: an audited permission, or drawn in the sample."""
        return permission in snapshot.audited or (
            self.sample_rate > 0.0 and random.random() < self.sample_rate  # noqa: S311 (a sample, not a secret)
        )

    @property
    def offer(self) -> Callable[[DecisionRecord], None]:
        """Buffer a record made outside the checks (a management call refused for want of a
        permission); never blocks (see :class:`DecisionTrail`)."""
        return self.trail.offer

    def close(self) -> None:
        """Write what is buffered and stop the writer."""
        self.trail.close()

    def _write(self, events: Sequence[PendingEvent]) -> None:
        with self._ctx.transaction() as tx:
            self._ctx.recorder.write(tx, events)


def describe(record: DecisionRecord) -> PendingEvent:
    """The audit event of a decision: its reason and chains as ``explain`` gives them."""
    snapshot, permission, tenant, user, at, origin, action = record
    decision = decide(snapshot, permission, now=at)
    details: dict[str, Any] = {
        "permission": permission,
        "allowed": decision.allowed,
        "reason": decision.reason.value,
        "chains": [str(chain) for chain in decision.chains],
        "revision": snapshot.revision,
    }
    if snapshot.user_id is None:
        details["user"] = str(user)
    if snapshot.tenant_id is None:
        details["tenant"] = str(tenant)
    if origin is not None and origin.route is not None:
        details["route"] = origin.route
    subject = str(snapshot.user_id) if snapshot.user_id is not None else str(user)
    entry = AuditEntry(
        action=ALLOWED if decision.allowed else action or DENIED,
        target_type="user",
        target_id=subject,
        actor=origin.actor if origin is not None and origin.actor else subject,
        tenant_id=snapshot.tenant_id,
        details=details,
    )
    return PendingEvent(entry, datetime.fromtimestamp(at, UTC), origin)
